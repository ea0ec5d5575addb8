/// Times the U-Net's forward pass (no gradient) and a whole training step
/// (forward, MSE, backward, Adam) on random data.
public struct ModelBenchmark {
    public struct Result: Sendable {
        public var forwardSeconds: [Double] = []
        public var trainSeconds: [Double] = []
        /// Process CPU seconds of the same iterations.
        public var forwardCPUSeconds: [Double] = []
        public var trainCPUSeconds: [Double] = []
        public var forwardBatch = 0, trainBatch = 0
        /// With `profile`: seconds per kind of work in one forward pass and one train step
        /// (mean over the timed iterations), ending with "other" (copies, loss, the time
        /// embedding: what no label covers).
        public var forwardProfile: [StepProfile.Entry] = []
        public var trainProfile: [StepProfile.Entry] = []
        public var forwardImagesPerSecond: Double { Double(forwardBatch) / median(forwardSeconds) }
        public var trainImagesPerSecond: Double { Double(trainBatch) / median(trainSeconds) }
        public var forwardCPUMillisecondsPerImage: Double { 1000 * median(forwardCPUSeconds) / Double(forwardBatch) }
        public var trainCPUMillisecondsPerImage: Double { 1000 * median(trainCPUSeconds) / Double(trainBatch) }
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? .nan : s[s.count / 2]
    }

    /// Seconds per label per iteration, with the rest of the `wall` and `cpu` totals as "other".
    static func perIteration(_ p: StepProfile, wall: Double, cpu: Double, iterations: Int) -> [StepProfile.Entry] {
        let n = Double(iterations)
        return p.entries.map { .init(label: $0.label, seconds: $0.seconds / n, cpuSeconds: $0.cpuSeconds / n) }
            + [.init(label: "other", seconds: max(0, wall - p.totalSeconds) / n, cpuSeconds: max(0, cpu - p.totalCPUSeconds) / n)]
    }

    public static func run(model: UNet2DModel, forwardBatch: Int, trainBatch: Int, iterations: Int, profile: Bool = false,
                           log: (String) -> Void = { _ in }) throws -> Result {
        defer { model.context.profile = nil }
        var result = Result()
        result.forwardBatch = forwardBatch; result.trainBatch = trainBatch
        let size = model.config.sampleSize, c = model.config.inChannels
        var rng = RandomStream(seed: 1, key: 2)
        func batch(_ n: Int) -> (Tensor, [Float]) {
            let x = Tensor(shape: [n, size, size, c])
            rng.fillNormal(x.data, count: x.count)
            return (x, (0..<n).map { _ in Float(rng.int(below: 1000)) })
        }
        if forwardBatch > 0 {
            let (x, t) = batch(forwardBatch)
            let p = StepProfile()
            for i in 0...iterations {
                model.context.profile = profile && i > 0 ? p : nil
                let t0 = ResourceUsage.now(), c0 = ResourceUsage.processCPUSeconds()
                _ = try model.forward(x, timesteps: t)
                let dt = ResourceUsage.now() - t0
                if i > 0 {  // the first run warms up
                    result.forwardSeconds.append(dt)
                    result.forwardCPUSeconds.append(ResourceUsage.processCPUSeconds() - c0)
                }
                log("forward \(i == 0 ? "warm-up" : "\(i)/\(iterations)"): \(dt) s")
            }
            if profile { result.forwardProfile = perIteration(p, wall: result.forwardSeconds.reduce(0, +),
                                                           cpu: result.forwardCPUSeconds.reduce(0, +), iterations: iterations) }
        }
        if trainBatch > 0 {
            let adam = Adam(count: model.store.count)
            let (x, t) = batch(trainBatch)
            let p = StepProfile()
            for i in 0...iterations {
                model.context.profile = profile && i > 0 ? p : nil
                let t0 = ResourceUsage.now(), c0 = ResourceUsage.processCPUSeconds()
                model.store.zeroGrads()
                let out = try model.forward(x, timesteps: t, recordForBackward: true)
                let dOut = Tensor(uninitialized: out.shape)
                let scale = 2 / Float(out.count)
                for j in 0..<out.count { dOut[j] = scale * (out[j] - x[j]) }
                model.backward(dOut)
                model.context.timed("Adam") {
                    adam.update(params: model.store.values, grads: model.store.grads, lr: 1e-4, beta1: 0.9, beta2: 0.999)
                }
                let dt = ResourceUsage.now() - t0
                if i > 0 {
                    result.trainSeconds.append(dt)
                    result.trainCPUSeconds.append(ResourceUsage.processCPUSeconds() - c0)
                }
                log("train step \(i == 0 ? "warm-up" : "\(i)/\(iterations)"): \(dt) s")
            }
            if profile { result.trainProfile = perIteration(p, wall: result.trainSeconds.reduce(0, +),
                                                         cpu: result.trainCPUSeconds.reduce(0, +), iterations: iterations) }
        }
        return result
    }
}
