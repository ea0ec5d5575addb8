/// A reverse-process sampler: a list of timesteps and one update per timestep.
///
/// Step i takes the sample x at `timesteps[i]`, the model's noise prediction eps and, where
/// `drawsNoise(at:)` says so, fresh standard-normal noise z of x's shape, and returns the sample
/// at the next (smaller) noise level with the clean-image estimate x0 made along the way.
/// `Sampling.run` drives it; tests call `step` directly.
public protocol DiffusionSampler {
    /// The timesteps visited, in order (largest first).
    var timesteps: [Int] { get }

    /// Whether the model is evaluated at timestep t; where not, the previous eps is reused.
    /// The first step is always evaluated (see `modelEvaluationMask`).
    func evaluatesModel(at t: Int) -> Bool

    /// Whether the step at timestep t adds noise (and so wants z drawn).
    func drawsNoise(at t: Int) -> Bool

    /// The timestep the model sees at step i (diffusers' Euler schedulers visit fractional
    /// ones). Default: `timesteps[i]`.
    func modelTimestep(at index: Int) -> Double

    /// The sample x_T the run starts from, given standard-normal noise of its shape.
    /// Default: the noise itself.
    func initialSample(noise: Tensor) -> Tensor

    /// Step i of a run (at `timesteps[index]`), with what the run remembers of its earlier
    /// steps (a multistep solver keeps its last clean-image estimates there; single-step
    /// samplers ignore it). `noise` = nil adds no noise (the step's mean).
    func step(index: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor)
}

/// What a run of a multistep sampler carries from step to step.
public struct SamplerMemory {
    /// The latest model outputs converted to clean-image estimates, newest last.
    public var x0History: [Tensor] = []
    /// diffusers' `lower_order_nums`: the earlier steps the solver's order may build on,
    /// counted up to the solver order and no further.
    public var lowerOrderNums = 0
    public init() {}
}

extension DiffusionSampler {
    public func evaluatesModel(at t: Int) -> Bool { true }

    public func modelTimestep(at index: Int) -> Double { Double(timesteps[index]) }

    public func initialSample(noise: Tensor) -> Tensor { noise }

    /// Which steps call the model: the first always (there is no earlier eps to reuse), the
    /// rest where `evaluatesModel(at:)` holds.
    public var modelEvaluationMask: [Bool] {
        timesteps.enumerated().map { i, t in i == 0 || evaluatesModel(at: t) }
    }

    /// Model evaluations a run will make, known before it starts (for progress bars).
    public var plannedModelEvaluations: Int { modelEvaluationMask.filter { $0 }.count }
}
