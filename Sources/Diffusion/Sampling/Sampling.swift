/// A noise-predicting model: x is [B, 32, 32, C] NHWC, t holds each sample's timestep;
/// returns eps of x's shape.
public typealias DenoisingModel = (_ x: Tensor, _ t: [Double]) throws -> Tensor

/// Called after every step with the step index (0-based), the number of steps and the step's
/// clean-image estimate x0.
public typealias SamplingProgress = (_ stepIndex: Int, _ totalSteps: Int, _ x0Prediction: Tensor) -> Void

public struct SamplingResult {
    /// The final samples, shape of the initial noise.
    public let images: Tensor
    /// Model calls made (each over the whole local batch).
    public let modelEvaluations: Int
}

/// Runs samplers over a rank's local images.
///
/// Randomness is keyed: image i of the whole run (its global index) draws its initial noise
/// x_T and then every step's z, in order, from its own `RandomStream(seed:key: i)`, so the
/// images do not depend on how they are split across ranks or batches.
public enum Sampling {
    /// One stream per image, for the global image indices `images` of a run.
    public static func streams(seed: UInt64, images: Range<Int>) -> [RandomStream] {
        images.map { RandomStream(seed: seed, key: UInt64($0)) }
    }

    /// x_T for the local images: image b's elements (H·W·C of `imageShape`, NHWC) from stream b.
    public static func initialNoise(imageShape: [Int], streams: inout [RandomStream]) -> Tensor {
        let noise = Tensor(shape: [streams.count] + imageShape)
        fillNoise(noise, streams: &streams)
        return noise
    }

    /// Model evaluations `spec` will make (for progress bars), without running it.
    public static func plannedModelEvaluations(spec: SamplerSpec, schedule: NoiseSchedule = .recipe) throws -> Int {
        try spec.makeSampler(schedule: schedule).plannedModelEvaluations
    }

    /// Samples from x_T = `noise` ([B, H, W, C], one stream per image in `streams`).
    public static func run(spec: SamplerSpec, schedule: NoiseSchedule = .recipe, model: DenoisingModel,
                           noise: Tensor, streams: inout [RandomStream],
                           onStep: SamplingProgress? = nil) throws -> SamplingResult {
        try run(sampler: spec.makeSampler(schedule: schedule), model: model, noise: noise,
                streams: &streams, onStep: onStep)
    }

    /// Samples with any `DiffusionSampler`: evaluates the model where the sampler's mask says
    /// (reusing the last eps elsewhere), draws z from the streams where it adds noise, steps.
    /// An empty local batch returns at once without calling the model.
    public static func run(sampler: any DiffusionSampler, model: DenoisingModel,
                           noise: Tensor, streams: inout [RandomStream],
                           onStep: SamplingProgress? = nil) throws -> SamplingResult {
        let batch = noise.shape.first ?? 0
        guard streams.count == batch else { throw SamplingError.streamCount(images: batch, streams: streams.count) }
        if batch == 0 { return SamplingResult(images: noise.copy(), modelEvaluations: 0) }

        let timesteps = sampler.timesteps
        let evaluate = sampler.modelEvaluationMask
        var x = sampler.initialSample(noise: noise)
        var eps = noise  // replaced at step 0, which always evaluates
        var evaluations = 0
        var memory = SamplerMemory()
        for (i, t) in timesteps.enumerated() {
            if evaluate[i] {
                eps = try model(x, [Double](repeating: sampler.modelTimestep(at: i), count: batch))
                guard eps.shape == x.shape else {
                    throw SamplingError.modelOutputShape(t: t, expected: x.shape, got: eps.shape)
                }
                evaluations += 1
            }
            var z: Tensor? = nil
            if sampler.drawsNoise(at: t) {
                let fresh = Tensor(shape: x.shape)
                fillNoise(fresh, streams: &streams)
                z = fresh
            }
            let (prevSample, predOriginal) = sampler.step(index: i, eps: eps, x: x, noise: z, memory: &memory)
            x = prevSample
            onStep?(i, timesteps.count, predOriginal)
        }
        return SamplingResult(images: x === noise ? noise.copy() : x, modelEvaluations: evaluations)
    }

    /// Fills image b of `tensor` (first dimension) from `streams[b]`.
    static func fillNoise(_ tensor: Tensor, streams: inout [RandomStream]) {
        let perImage = streams.isEmpty ? 0 : tensor.count / streams.count
        for b in streams.indices { streams[b].fillNormal(tensor.data + b * perImage, count: perImage) }
    }
}
