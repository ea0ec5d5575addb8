/// Sampling spread over the ranks of a group: image i of n (the global index) belongs to the
/// rank whose contiguous share holds it, draws from stream (seed, i), and the images are
/// gathered to rank 0 in order. The result does not depend on the number of ranks.
public enum ShardedSampling {
    public struct Result {
        /// All n images on rank 0 ([n, H, W, C]); nil elsewhere.
        public let images: Tensor?
        /// This rank's images.
        public let local: Tensor
        /// The global indices of `local`.
        public let localRange: Range<Int>
        public let modelEvaluations: Int
    }

    /// The U-Net as a `DenoisingModel` (no gradients kept).
    public static func denoiser(_ model: UNet2DModel) -> DenoisingModel {
        { x, t in try model.forward(x, timesteps: t.map { Float($0) }) }
    }

    /// Every rank runs its whole share of the n images as one batch: refuses, before drawing
    /// anything, a model that is not a denoiser or a share (plus the n images gathered on
    /// rank 0) that cannot fit in memory.
    /// - Parameter initialNoise: x_T for all n images ([n, H, W, C]); drawn from the streams when nil.
    /// - Parameter guidance: the classes and guidance scale for a class-conditional model
    ///   (required for one, refused for an unconditional model); image i gets class `labels[i]`.
    /// - Parameter clip: clamp the final images to the data range `Preprocess.valueRange`
    ///   (diffusers' pipelines clamp theirs too); false keeps the sampler's raw output.
    public static func generate(model: UNet2DModel, spec: SamplerSpec, schedule: NoiseSchedule,
                                count n: Int, seed: UInt64, group: Collectives,
                                initialNoise: Tensor? = nil, guidance: ClassGuidance? = nil, clip: Bool = true,
                                onStep: SamplingProgress? = nil) throws -> Result {
        let c = model.config
        try c.checkDenoiser(for: "sampling")
        guard n >= 0 else { throw SamplingError.imageCount(n) }
        try ClassGuidance.check(guidance, for: c, images: n)
        let mine = EpochPlan.share(count: n, rank: group.rank, size: group.size)
        let imageShape = [c.sampleSize, c.sampleSize, c.outChannels]
        var estimate = c.memoryEstimate(batch: mine.count * (guidance?.passes ?? 1), training: false)
        if group.isRoot { estimate.otherBytes = CheckedSize.product([n] + imageShape) * 4 * 2 }  // the images and their .npy bytes
        try MemoryBudget.check(estimate, for: "sampling \(n) images (\(mine.count) on rank \(group.rank))", group: group)
        var streams = Sampling.streams(seed: seed, images: mine)
        let noise: Tensor
        if let initialNoise {
            guard initialNoise.shape == [n] + imageShape else {
                throw SamplingError.noiseShape(expected: [n] + imageShape, got: initialNoise.shape)
            }
            noise = initialNoise.gather(Array(mine))
        } else {
            noise = Sampling.initialNoise(imageShape: imageShape, streams: &streams)
        }
        let output = guidance.map { $0.denoiser(model, localLabels: Array($0.labels[mine])) } ?? denoiser(model)
        // A v- or x0-predicting model's (guided) output, as the eps the samplers step on.
        let denoiser = model.predictionType.epsilonModel(output, sampler: try spec.makeSampler(schedule: schedule), schedule: schedule)
        let result = try Sampling.run(spec: spec, schedule: schedule, model: denoiser, noise: noise,
                                      streams: &streams, onStep: onStep)
        if clip { clamp(result.images, to: Preprocess.valueRange) }
        let perImage = imageShape.reduce(1, *)
        let counts = (0..<group.size).map { EpochPlan.share(count: n, rank: $0, size: group.size).count * perImage }
        let all = try group.gather(UnsafeBufferPointer(start: result.images.data, count: result.images.count),
                                   counts: counts, root: 0)
        let images = group.isRoot ? Tensor(shape: [n] + imageShape, values: all) : nil
        return Result(images: images, local: result.images, localRange: mine, modelEvaluations: result.modelEvaluations)
    }

    /// Clamps every element of `images` to `range` in place.
    public static func clamp(_ images: Tensor, to range: ClosedRange<Float>) {
        for i in 0..<images.count { images.data[i] = min(max(images.data[i], range.lowerBound), range.upperBound) }
    }

    /// `generate` between two barriers behind a progress bar labelled `label`, with the wall
    /// seconds it took (the slowest rank's): one timed row of a comparison or sweep.
    static func timedGenerate(label: String, model: UNet2DModel, spec: SamplerSpec, schedule: NoiseSchedule,
                              count n: Int, seed: UInt64, group: Collectives, guidance: ClassGuidance? = nil,
                              clip: Bool = true) throws -> (result: Result, seconds: Double) {
        let bar = SamplingProgressBar(label: label, group: group)
        try group.barrier()
        let t0 = ResourceUsage.now()
        let result = try generate(model: model, spec: spec, schedule: schedule, count: n, seed: seed, group: group,
                                  guidance: guidance, clip: clip) { step, total, _ in bar.step(step, of: total) }
        try group.barrier()
        let seconds = ResourceUsage.now() - t0
        bar.finish()
        return (result, seconds)
    }
}
