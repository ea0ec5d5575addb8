/// Classifier features of images spread over the ranks of a group, reduced to rank 0.
///
/// Each rank featurizes its own images in batches and accumulates Float64 sums
/// (`FeatureStatistics`); the packed sums [n, Σx, Σxxᵀ] of all ranks are added by one
/// collective (an allreduce: 1 + d + d² doubles, 130 KB at d = 128), after which rank 0 forms
/// the mean and the unbiased covariance. The feature rows themselves, which KID needs, go to
/// rank 0 only for the images asked for (`keepRows`), in global order.
public enum ShardedFeatures {
    public struct Result {
        /// The sums over every rank's images (on every rank; rank 0 is the one that uses them).
        public let statistics: FeatureStatistics
        /// On rank 0: the kept feature rows, [kept, d] in ascending global index; nil elsewhere.
        public let rows: Tensor?
    }

    /// - Parameters:
    ///   - localImages: this rank's images [m, H, W, C], global indices `localRange`.
    ///   - keepRows: which global indices' feature rows to gather on rank 0 (all if nil).
    ///   - onBatch: called after each local batch with the images done so far on this rank.
    public static func compute(localImages: Tensor, localRange: Range<Int>, classifier: FashionClassifier,
                               keepRows: ((Int) -> Bool)? = nil, batchSize: Int = 256, group: Collectives,
                               onBatch: ((Int) -> Void)? = nil) throws -> Result {
        precondition(localImages.shape.first == localRange.count,
                     "rank \(group.rank): \(localRange.count) indices for images \(localImages.shape)")
        let d = classifier.featureDimension
        let m = localRange.count
        var statistics = FeatureStatistics(dimension: d)
        var kept: [Float] = []
        var start = 0
        while start < m {
            let count = min(batchSize, m - start)
            let batch = localImages.gather(Array(start..<(start + count)))
            let features = classifier.forward(batch).features
            try statistics.accumulate(features)
            for r in 0..<count where keepRows?(localRange.lowerBound + start + r) ?? true {
                kept.append(contentsOf: UnsafeBufferPointer(start: features.data + r * d, count: d))
            }
            start += count
            onBatch?(start)
        }

        // 1. the sums: one collective
        var packed = statistics.packed
        try packed.withUnsafeMutableBufferPointer { try group.allreduceSum($0) }
        let total = try FeatureStatistics(packed: packed, dimension: d)

        // 2. the kept rows, gathered in rank order: global order if the ranks' ranges ascend
        var layout = [Double](repeating: 0, count: 3 * group.size)
        layout[group.rank] = Double(kept.count)
        layout[group.size + group.rank] = Double(localRange.lowerBound)
        layout[2 * group.size + group.rank] = Double(localRange.upperBound)
        layout = try group.allreduceSum(layout)
        for r in 1..<max(group.size, 1) where layout[2 * group.size + r - 1] > layout[group.size + r] {
            throw MetricsError.invalidArgument(
                "rank \(r - 1) holds images up to \(Int(layout[2 * group.size + r - 1])), rank \(r) starts at "
                + "\(Int(layout[group.size + r])): ranks must hold ascending, disjoint ranges of the images")
        }
        let counts = Array(layout[0..<group.size])
        let rows = try kept.withUnsafeBufferPointer {
            try group.gather($0, counts: counts.map { Int($0) }, root: 0)
        }
        let keptTotal = Int(counts.reduce(0, +)) / d
        return Result(statistics: total, rows: group.isRoot ? Tensor(shape: [keptTotal, d], values: rows) : nil)
    }
}
