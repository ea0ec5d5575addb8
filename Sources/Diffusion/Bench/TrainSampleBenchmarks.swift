import Foundation

extension ModelPreset {
    /// The preset on 32x32 images: what the benchmarks time.
    public var benchmarkConfig: UNetConfig {
        var config = self.config
        config.sampleSize = Preprocess.imageSize
        return config
    }
}

/// A freshly initialised model of a preset, on 32x32 images: what the benchmarks time.
public func benchmarkModel(preset: ModelPreset, convolutions: ConvolutionBackend = .swift) throws -> UNet2DModel {
    let model = try UNet2DModel(config: preset.benchmarkConfig)
    model.context.convolutions = convolutions
    model.initializeParameters(seed: 0)
    return model
}

/// What `launcher bench train` measures: data-parallel training steps on synthetic images.
public enum TrainBenchmark {
    /// `steps` timed steps after one warm-up step at `batch` images over the group; each step
    /// counts at its slowest rank, the median step is reported. Collective: every rank gets
    /// the same result.
    public static func run(preset: ModelPreset, convolutions: ConvolutionBackend = .swift, batch: Int, steps: Int,
                           overlap: Bool, bucketFloats: Int, threadsPerRank: Int, group: Collectives) throws -> TrainBenchResult {
        let model = try benchmarkModel(preset: preset, convolutions: convolutions)
        var options = TrainingOptions()
        options.batchSize = batch
        options.epochs = 1
        let trainer = try Trainer(model: model, images: syntheticImages(count: batch * (steps + 1), size: 32),
                              options: options, group: group)
        trainer.separateWaitFromAllreduce = true
        trainer.overlapAllreduce = overlap
        trainer.bucketFloats = bucketFloats
        var reports: [Trainer.StepReport] = []
        for i in 0...steps {
            let r = try trainer.trainStep()
            if i > 0 { reports.append(r) }
        }
        // The slowest rank sets the pace: take each step's maximum over ranks.
        let step = ModelBenchmark.median(try group.allreduceMax(reports.map(\.seconds)))
        let ar = ModelBenchmark.median(try group.allreduceMax(reports.map(\.allreduceSeconds)))
        let waited = ModelBenchmark.median(try group.allreduceMax(reports.map(\.waitSeconds)))
        return TrainBenchResult(preset: preset.rawValue, ranks: group.size, threadsPerRank: threadsPerRank, globalBatch: batch,
                                stepSeconds: step, imagesPerSecond: Double(batch) / step,
                                allreduceSeconds: ar, allreduceShare: ar / step, imbalanceWaitSeconds: waited,
                                gradientMegabytes: Double(model.store.count * 4) / 1e6,
                                overlap: overlap, bucketFloats: bucketFloats)
    }

    /// Synthetic training images in [-0.5, 0.5]: benchmarks measure compute, not data loading.
    static func syntheticImages(count: Int, size: Int) -> Tensor {
        let t = Tensor(shape: [count, size, size, 1])
        var rng = RandomStream(seed: 7, key: 7)
        for i in 0..<t.count { t[i] = Float(rng.uniform() - 0.5) }
        return t
    }
}

extension TrainBenchResult {
    /// The line `bench train` prints. Files from before overlap and buckets were recorded read
    /// as not overlapped, 4Mi-float buckets.
    public var summary: String {
        let overlapped = overlap ?? false
        return String(format: "preset %@, %d rank(s) x %d thread(s), global batch %d: %.1f img/s (step %.3f s), allreduce left after backward %.1f ms = %.1f%% of the step (%.1f MB of gradients in %d-float buckets, %@), waiting for the slowest rank %.1f ms",
                      preset, ranks, threadsPerRank, globalBatch, imagesPerSecond, stepSeconds, allreduceSeconds * 1000,
                      100 * allreduceShare, gradientMegabytes, bucketFloats ?? 4 << 20,
                      overlapped ? "overlapped with backward" : "not overlapped", imbalanceWaitSeconds * 1000)
    }
}

/// What `launcher bench sample` measures: DDIM sampling of random-weight models over the group.
public enum SampleBenchmark {
    /// `images` images in `steps` DDIM steps, split across the group, timed from a barrier to
    /// the end of generation. Collective; each rank reports its own time (rank 0's is printed).
    public static func run(preset: ModelPreset, convolutions: ConvolutionBackend = .swift, images n: Int, steps: Int,
                           threadsPerRank: Int, group: Collectives) throws -> SampleBenchResult {
        let model = try benchmarkModel(preset: preset, convolutions: convolutions)
        let spec = try SamplerSpec.parse(.ddim, steps: steps)
        try group.barrier()
        let t0 = ResourceUsage.now()
        let result = try ShardedSampling.generate(model: model, spec: spec, schedule: .recipe, count: n, seed: 0, group: group)
        let seconds = ResourceUsage.now() - t0
        return SampleBenchResult(preset: preset.rawValue, ranks: group.size, threadsPerRank: threadsPerRank, images: n,
                                 modelEvaluations: result.modelEvaluations, seconds: seconds,
                                 evaluationsPerSecond: Double(result.modelEvaluations) / seconds,
                                 imagesPerSecond: Double(n) / seconds,
                                 forwardImagesPerSecond: Double(n * result.modelEvaluations) / seconds)
    }
}

extension SampleBenchResult {
    /// The line `bench sample` prints.
    public var summary: String {
        String(format: "preset %@, %d rank(s) x %d thread(s): %d images x %d evaluations in %.2f s: %.2f evaluations/s, %.2f img/s end to end, %.1f img/s through the model",
               preset, ranks, threadsPerRank, images, modelEvaluations, seconds, evaluationsPerSecond, imagesPerSecond,
               forwardImagesPerSecond)
    }
}
