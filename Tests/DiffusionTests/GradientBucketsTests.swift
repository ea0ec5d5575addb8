import Testing
@testable import Diffusion

/// A one-rank group that records which ranges of the gradient buffer were started, in order,
/// and doubles them at wait() (so a test sees that every float was summed exactly once).
private final class RecordingGroup: Collectives {
    let base: UnsafeMutablePointer<Float>
    var started: [Range<Int>] = []
    var tests = 0
    init(base: UnsafeMutablePointer<Float>) { self.base = base }
    var rank: Int { 0 }
    var size: Int { 1 }
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
        let lower = buffer.baseAddress! - base
        started.append(lower..<(lower + buffer.count))
        return Doubling(buffer, group: self)
    }
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<UInt8>, root: Int) throws {}
    func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], root: Int) throws -> [Float] { Array(local) }
    func barrier() throws {}

    final class Doubling: PendingCollective {
        let buffer: UnsafeMutableBufferPointer<Float>
        weak var group: RecordingGroup?
        var done = false
        init(_ buffer: UnsafeMutableBufferPointer<Float>, group: RecordingGroup) { self.buffer = buffer; self.group = group }
        func test() throws -> Bool { group?.tests += 1; return done }
        func wait() throws {
            if !done { for i in buffer.indices { buffer[i] *= 2 } }
            done = true
        }
    }
}

@Suite struct GradientBucketsTests {
    /// Backward reports 'final from offset x down'; a bucket starts only once it lies wholly
    /// above x, top bucket first, and after the rest are started every float is summed once.
    @Test func bucketsStartTopDownOnceFinished() throws {
        var values = [Float](repeating: 1, count: 10)
        try values.withUnsafeMutableBufferPointer { buffer in
            let group = RecordingGroup(base: buffer.baseAddress!)
            let buckets = GradientBuckets(gradients: buffer, bucketFloats: 4)  // [0,4) [4,8) [8,10)
            buckets.gradientsReady(downTo: 9, group: group)
            #expect(group.started.isEmpty)
            buckets.gradientsReady(downTo: 8, group: group)
            #expect(group.started == [8..<10])
            buckets.gradientsReady(downTo: 5, group: group)
            #expect(group.started == [8..<10])
            buckets.gradientsReady(downTo: 3, group: group)
            #expect(group.started == [8..<10, 4..<8])
            #expect(group.tests > 0, "buckets in flight are given a chance to progress")
            try buckets.startRest(group: group)
            #expect(group.started == [8..<10, 4..<8, 0..<4])
            try buckets.wait()
        }
        #expect(values == [Float](repeating: 2, count: 10))
    }
}

@Suite struct BackwardReadyOffsetsTests {
    /// What backward reports is a true watermark: the offsets only fall, and no gradient at or
    /// above a reported offset changes after the report (so starting its allreduce is safe).
    @Test func unetReportsOnlyFinishedGradients() throws {
        let model = try UNet2DModel(config: .tiny)
        model.initializeParameters(seed: 3)
        var rng = RandomStream(seed: 4)
        let x = Tensor(shape: [2, 16, 16, 1])
        rng.fillNormal(x.data, count: x.count)
        let out = try model.forward(x, timesteps: [17, 650], recordForBackward: true)
        let dOut = Tensor(shape: out.shape)
        rng.fillNormal(dOut.data, count: dOut.count)
        model.store.zeroGrads()
        var reports: [(offset: Int, grads: [Float])] = []
        model.backward(dOut) { offset in reports.append((offset, Array(model.store.gradBuffer[offset...]))) }
        let final = Array(model.store.gradBuffer)
        #expect(reports.count > 3)
        #expect(reports.last?.offset == 0)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.offset >= $1.offset })
        for r in reports {
            #expect(r.grads == Array(final[r.offset...]), "gradients above offset \(r.offset) changed after it was reported")
        }
    }
}
