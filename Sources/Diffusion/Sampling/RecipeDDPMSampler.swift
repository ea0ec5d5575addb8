// The recipe's own DDPM loop (Ho et al. 2020, Algorithm 2) with its evaluation skips: `--sampler ddpm`.

/// The recipe's DDPM ancestral sampler (Ho et al. 2020, Algorithm 2 with sigma_t² = beta_t):
///
///     x0'     = x_t - (1 - a_t) / sqrt(1 - alphaBar_t) · eps
///     x_{t-1} = x0' / sqrt(a_t) + sqrt(beta_t) · z
///
/// (x0' is sqrt(a_t) times the posterior mean, not an estimate of the clean image; `step`
/// reports x0 = (x_t - sqrt(1 - alphaBar_t) eps)/sqrt(alphaBar_t) as `predOriginal`.)
///
/// Timesteps: t = T-1 down to 1 (999 steps), the final step t = 1 producing x_0 — the recipe's
/// loop, pinned by its 366 evaluations (a t = 0 step would be evaluated too, making 367). Noise
/// z is added on every step including the last: the recipe's `z if t > 0` never skips inside
/// 999...1, as in its DDIM form ("+ sigma z if t > 0"). The output x_0 is the sample at
/// alphaBar_0 = 0.9999, i.e. it keeps noise of std ~0.01, as the recipe's did.
/// The model runs only where `skip` says (default: the recipe's t % 3 == 0 || t < 50).
public struct RecipeDDPMSampler: DiffusionSampler {
    public let schedule: NoiseSchedule
    /// The preset in use; nil when built with a custom predicate.
    public let skip: EvaluationSkip?
    public let timesteps: [Int]
    private let predicate: (Int) -> Bool

    public init(schedule: NoiseSchedule = .recipe, skip: EvaluationSkip = .recipe) {
        self.init(schedule: schedule, skip: skip) { skip.evaluates(t: $0, trainSteps: schedule.count) }
    }

    /// Evaluates the model only where `predicate(t)` holds (and at the first step).
    public init(schedule: NoiseSchedule = .recipe, evaluateModelWhere predicate: @escaping (Int) -> Bool) {
        self.init(schedule: schedule, skip: nil, predicate: predicate)
    }

    private init(schedule: NoiseSchedule, skip: EvaluationSkip?, predicate: @escaping (Int) -> Bool) {
        self.schedule = schedule
        self.skip = skip
        self.predicate = predicate
        self.timesteps = Array((1..<schedule.count).reversed())
    }

    public func evaluatesModel(at t: Int) -> Bool { predicate(t) }

    public func drawsNoise(at t: Int) -> Bool { true }

    public func step(index: Int, eps: Tensor, x: Tensor, noise z: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let t = timesteps[index]
        precondition((1..<schedule.count).contains(t), "RecipeDDPMSampler: timestep \(t) outside 1..<\(schedule.count)")
        let alpha = schedule.alphas[t], alphaBar = schedule.alphasCumprod[t], beta = schedule.betas[t]
        // x_{t-1} = x_t / sqrt(a_t) - (1 - a_t) / (sqrt(1 - alphaBar_t) sqrt(a_t)) eps + sqrt(beta_t) z
        let epsCoefficient = (1 - alpha) / (1 - alphaBar).squareRoot()
        let prev = StepArithmetic.combine(1 / alpha.squareRoot(), x, -epsCoefficient / alpha.squareRoot(), eps,
                                          beta.squareRoot(), z)
        return (prev, StepArithmetic.predictX0(x: x, eps: eps, alphaBar: alphaBar))
    }
}
