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

    /// One reverse step at timestep t. `noise` = nil adds no noise (the step's mean).
    func step(eps: Tensor, t: Int, x: Tensor, noise: Tensor?) -> (prevSample: Tensor, predOriginal: Tensor)
}

extension DiffusionSampler {
    public func evaluatesModel(at t: Int) -> Bool { true }

    /// Which steps call the model: the first always (there is no earlier eps to reuse), the
    /// rest where `evaluatesModel(at:)` holds.
    public var modelEvaluationMask: [Bool] {
        timesteps.enumerated().map { i, t in i == 0 || evaluatesModel(at: t) }
    }

    /// Model evaluations a run will make, known before it starts (for progress bars).
    public var plannedModelEvaluations: Int { modelEvaluationMask.filter { $0 }.count }
}
