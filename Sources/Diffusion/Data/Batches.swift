/// One epoch's order of the dataset and its global batches, the same on every rank.
///
/// The order is a single permutation drawn from `RandomStream(seed: seed, key: epoch)`, so
/// all ranks agree on it without communicating. Batch b is the b-th run of `globalBatch`
/// indices of that order (the last one shorter unless `dropLast`); each rank trains on its
/// own contiguous share of every batch.
public struct EpochPlan: Sendable {
    public let datasetSize: Int
    public let globalBatch: Int
    public let seed: UInt64
    public let epoch: Int
    public let dropLast: Bool
    /// The dataset indices in this epoch's order (a permutation of 0..<datasetSize).
    public let order: [Int]

    public init(datasetSize: Int, globalBatch: Int, seed: UInt64, epoch: Int, dropLast: Bool = false) {
        precondition(datasetSize >= 0 && globalBatch > 0 && epoch >= 0,
                     "EpochPlan needs datasetSize >= 0, globalBatch > 0, epoch >= 0 (got \(datasetSize), \(globalBatch), \(epoch))")
        self.datasetSize = datasetSize
        self.globalBatch = globalBatch
        self.seed = seed
        self.epoch = epoch
        self.dropLast = dropLast
        var random = RandomStream(seed: seed, key: UInt64(epoch))
        order = random.permutation(datasetSize)
    }

    /// 60,000 / 128: 468 full batches and one of 96, or 468 with `dropLast`.
    public var batchCount: Int {
        dropLast ? datasetSize / globalBatch : (datasetSize + globalBatch - 1) / globalBatch
    }

    /// Batch b's positions in `order`.
    public func positions(batch b: Int) -> Range<Int> {
        precondition(b >= 0 && b < batchCount, "batch \(b) out of range 0..<\(batchCount)")
        return (b * globalBatch)..<min((b + 1) * globalBatch, datasetSize)
    }

    public func batchSize(_ b: Int) -> Int { positions(batch: b).count }

    /// Batch b's dataset indices.
    public func batch(_ b: Int) -> ArraySlice<Int> { order[positions(batch: b)] }

    /// Rank `rank`'s share of batch b: positions within the batch.
    public func sliceRange(batch b: Int, rank: Int, size: Int) -> Range<Int> {
        Self.share(count: batchSize(b), rank: rank, size: size)
    }

    /// Rank `rank`'s share of batch b: dataset indices.
    public func slice(batch b: Int, rank: Int, size: Int) -> [Int] {
        let start = positions(batch: b).lowerBound
        let r = sliceRange(batch: b, rank: rank, size: size)
        return Array(order[(start + r.lowerBound)..<(start + r.upperBound)])
    }

    /// Splits `count` items into `size` contiguous, disjoint shares in rank order: every rank
    /// gets `count / size`, and the first `count % size` ranks one more.
    public static func share(count: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(size > 0 && rank >= 0 && rank < size, "rank \(rank) of \(size)")
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }
}

extension Tensor {
    /// The items at `indices` along the first axis: [indices.count] + shape[1...]
    /// (a batch [b, 32, 32, 1] out of the preprocessed set [n, 32, 32, 1]).
    public func gather(_ indices: [Int]) -> Tensor {
        precondition(!shape.isEmpty, "gather needs a tensor with a first axis")
        let item = shape.dropFirst().reduce(1, *)
        let out = Tensor(shape: [indices.count] + shape.dropFirst())
        for (i, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[0], "index \(index) out of range 0..<\(shape[0])")
            (out.data + i * item).update(from: data + index * item, count: item)
        }
        return out
    }
}

extension Dataset {
    /// The labels at `indices`, as class numbers.
    public func labels(at indices: [Int]) -> [Int] { indices.map { Int(labels[$0]) } }
}
