// The recipe's own DDIM loop over every t = T-1...1, with its evaluation skips: `--sampler ddim-recipe`.

/// The recipe's DDIM sampler ("seed form"), one step per timestep t = T-1 down to 1, each going
/// to t - 1 (Song et al. 2021, eq. 12 and 16):
///
///     x0      = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t)
///     sigma_t = eta sqrt((1 - alphaBar_{t-1})/(1 - alphaBar_t)) sqrt(1 - alphaBar_t/alphaBar_{t-1})
///     x_{t-1} = sqrt(alphaBar_{t-1}) x0 + sqrt(1 - alphaBar_{t-1} - sigma_t²) eps + sigma_t z
///
/// No clipping. Noise on every step when eta > 0 (the seed's "if t > 0" holds throughout); the
/// output is x_0 at alphaBar_0, as in the recipe. The model runs only where `skip` says
/// (presets from the original comparison: `.evaluate367`, `.every10`). (diffusers' version is
/// `DDIMScheduler`; the DDIM paper's strided sampler is `DDIMPaperSampler`.)
public struct RecipeDDIMSampler: DiffusionSampler {
    public let schedule: NoiseSchedule
    public let eta: Double
    /// The preset in use; nil when built with a custom predicate.
    public let skip: EvaluationSkip?
    public let timesteps: [Int]
    private let predicate: (Int) -> Bool

    public init(schedule: NoiseSchedule = .recipe, eta: Double = 1, skip: EvaluationSkip = .evaluate367) {
        self.init(schedule: schedule, eta: eta, skip: skip) { skip.evaluates(t: $0, trainSteps: schedule.count) }
    }

    /// Evaluates the model only where `predicate(t)` holds (and at the first step).
    public init(schedule: NoiseSchedule = .recipe, eta: Double = 1, evaluateModelWhere predicate: @escaping (Int) -> Bool) {
        self.init(schedule: schedule, eta: eta, skip: nil, predicate: predicate)
    }

    private init(schedule: NoiseSchedule, eta: Double, skip: EvaluationSkip?, predicate: @escaping (Int) -> Bool) {
        precondition(eta.isFinite && (0...1).contains(eta), SamplingError.invalidEta(sampler: SamplerName.ddimRecipe.rawValue, eta: eta).description)
        self.schedule = schedule
        self.eta = eta
        self.skip = skip
        self.predicate = predicate
        self.timesteps = Array((1..<schedule.count).reversed())
    }

    public func evaluatesModel(at t: Int) -> Bool { predicate(t) }

    public func drawsNoise(at t: Int) -> Bool { eta > 0 }

    public func step(index: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let t = timesteps[index]
        precondition((1..<schedule.count).contains(t), "RecipeDDIMSampler: timestep \(t) outside 1..<\(schedule.count)")
        let alphaBar = schedule.alphasCumprod[t], alphaBarPrev = schedule.alphasCumprod[t - 1]
        let sigma = DDIMUpdate.sigma(eta: eta, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev)
        return DDIMUpdate.step(eps: eps, x: x, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev,
                               sigma: sigma, clip: nil, noise: noise)
    }
}
