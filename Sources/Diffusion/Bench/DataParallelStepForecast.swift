/// Predicted efficiency of a data-parallel training step: every rank computes forward and
/// backward on its own images, then the gradients are summed by ring allreduce in buckets.
///
/// compute = batchPerRank · secondsPerImage (one rank, measured)
/// serial (allreduce after backward, as the trainer does now):
///     step = compute + Σ_k T(p, bucket_k),          efficiency = compute / step
/// overlapped (bucket k is sent as soon as backward has produced it, while backward goes on):
///     step ≈ max(compute + T(p, last bucket), forward + Σ_k T(p, bucket_k))
/// The last bucket (the first layers' gradients, which backward produces last) can never be
/// hidden, and nothing can be sent during the forward pass. With an instant forward and tiny
/// buckets this is the textbook compute / max(compute, comm).
public struct DataParallelStepForecast: Sendable {
    /// Forward + backward + optimizer time of one image on one rank, seconds.
    public var secondsPerImage: Double
    /// Share of `secondsPerImage` spent before backward starts (forward, loss): about 1/3,
    /// since backward costs about twice the forward's FLOPs.
    public var forwardFraction: Double
    /// Gradient bytes allreduced every step (4 · parameters).
    public var gradientBytes: Double
    /// Bytes per allreduce call (the trainer's buckets).
    public var bucketBytes: Double
    public var allreduce: RingAllreduceCost

    public init(secondsPerImage: Double, forwardFraction: Double, gradientBytes: Double, bucketBytes: Double,
                allreduce: RingAllreduceCost) {
        self.secondsPerImage = secondsPerImage; self.forwardFraction = forwardFraction
        self.gradientBytes = gradientBytes; self.bucketBytes = bucketBytes; self.allreduce = allreduce
    }

    public struct Prediction: Codable, Sendable, Equatable {
        public let ranks: Int, batchPerRank: Int
        public let computeSeconds: Double
        /// All buckets' allreduce time, one after the other.
        public let allreduceSeconds: Double
        public let lastBucketSeconds: Double
        public let serialStepSeconds: Double, overlappedStepSeconds: Double
        public var serialEfficiency: Double { computeSeconds / serialStepSeconds }
        public var overlappedEfficiency: Double { computeSeconds / overlappedStepSeconds }
    }

    /// Bucket sizes in the order backward produces them (the remainder last).
    public var buckets: [Double] {
        guard gradientBytes > 0 else { return [] }
        let full = Int((gradientBytes / bucketBytes).rounded(.down))
        let rest = gradientBytes - Double(full) * bucketBytes
        return [Double](repeating: bucketBytes, count: full) + (rest > 0 ? [rest] : [])
    }

    public func predict(ranks p: Int, batchPerRank b: Int) -> Prediction {
        let compute = Double(b) * secondsPerImage
        let forward = forwardFraction * compute
        let backward = compute - forward
        let sizes = buckets
        let times = sizes.map { allreduce.seconds(ranks: p, bytes: $0) }
        // Overlap: backward yields gradient bytes at a steady rate; each bucket leaves when
        // it is complete and the previous one has gone (one allreduce at a time).
        var produced = 0.0, linkFree = 0.0
        for (size, t) in zip(sizes, times) {
            produced += size
            let ready = forward + backward * produced / gradientBytes
            linkFree = max(linkFree, ready) + t
        }
        let total = times.reduce(0, +)
        return Prediction(ranks: p, batchPerRank: b, computeSeconds: compute, allreduceSeconds: total,
                          lastBucketSeconds: times.last ?? 0, serialStepSeconds: compute + total,
                          overlappedStepSeconds: max(compute, linkFree))
    }

    /// The smallest per-rank batch (up to `limit`) that reaches `target` efficiency at `ranks`.
    public func minimumBatchPerRank(ranks p: Int, target: Double, overlapped: Bool, limit: Int = 4096) -> Int? {
        (1...limit).first { b in
            let r = predict(ranks: p, batchPerRank: b)
            return (overlapped ? r.overlappedEfficiency : r.serialEfficiency) >= target
        }
    }
}
