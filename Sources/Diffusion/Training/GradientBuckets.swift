/// The gradient buffer cut into fixed buckets, allreduced from the top of the store down:
/// backward finishes gradients in that order (parameters are registered in forward order),
/// so a bucket can travel while backward still computes the ones below it. Every rank cuts
/// the same buckets and starts them in the same order, as MPI requires of collectives.
final class GradientBuckets {
    private let gradients: UnsafeMutableBufferPointer<Float>
    private let bucketFloats: Int
    /// Everything at or above this offset has been started.
    private var startedDownTo: Int
    private var pending: [PendingCollective] = []
    /// An error from a start inside backward's callback, reported by `startRest` or `wait()`.
    private var failure: Error?
    /// The step, and the buckets started so far, for stall messages.
    private let step: Int
    private var startedCount = 0
    private var bucketCount: Int { (gradients.count + bucketFloats - 1) / bucketFloats }

    init(gradients: UnsafeMutableBufferPointer<Float>, bucketFloats: Int, step: Int = 0) {
        precondition(bucketFloats > 0)
        self.gradients = gradients
        self.bucketFloats = bucketFloats
        self.step = step
        startedDownTo = gradients.count
    }

    /// Backward's callback: gradients at or above `ready` are final. Starts every bucket
    /// lying wholly there and lets the ones in flight progress.
    func gradientsReady(downTo ready: Int, group: Collectives) {
        do { try startThrowing(ready: ready, group: group) } catch { failure = failure ?? error }
    }

    /// After backward: starts the buckets not started yet.
    func startRest(group: Collectives) throws {
        try startThrowing(ready: 0, group: group)
        if let failure { throw failure }
    }

    private func startThrowing(ready: Int, group: Collectives) throws {
        guard failure == nil else { return }
        while startedDownTo > 0 {
            // Buckets are cut from offset 0 up, so the lowest one holds the remainder.
            let lower = ((startedDownTo - 1) / bucketFloats) * bucketFloats
            guard lower >= ready else { break }
            startedCount += 1
            group.setStallContext(step: step, part: "gradient bucket \(startedCount) of \(bucketCount)")
            pending.append(try group.startAllreduceSum(UnsafeMutableBufferPointer(rebasing: gradients[lower..<startedDownTo])))
            startedDownTo = lower
        }
        for p in pending { try p.test() }
    }

    /// Waits for every started bucket.
    func wait() throws {
        if let failure { throw failure }
        for p in pending { try p.wait() }
        pending = []
    }
}
