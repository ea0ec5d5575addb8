// diffusers' DDIMScheduler.step (0.42.1), eta and clip_sample as there: `--sampler ddim-diffusers`.

/// diffusers' `DDIMScheduler` (0.42.1) for an epsilon-predicting model. (The DDIM paper's strided
/// sampler is `DDIMPaperSampler`; the recipe's own loop over every t is `RecipeDDIMSampler`.)
///
/// After `setTimesteps(n)`, the step at timestep t goes to t' = t - T div n (diffusers' rule,
/// even when the spacing is not "leading"), with alphaBarPrev = alphaBar_{t'} or, when t' < 0,
/// 1 (`set_alpha_to_one`) or alphaBar_0. Then (Song et al. 2021, eq. 12 and 16):
///
///     x0     = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t), clipped if clip_sample
///     sigma  = eta sqrt((1 - alphaBarPrev)/(1 - alphaBar_t)) sqrt(1 - alphaBar_t/alphaBarPrev)
///     x_{t'} = sqrt(alphaBarPrev) x0 + sqrt(1 - alphaBarPrev - sigma^2) eps + sigma z
///
/// Noise is drawn whenever eta > 0, as in diffusers.
public struct DDIMScheduler: DiffusionSampler {
    public let schedule: NoiseSchedule
    public let config: DiffusersSchedulerConfig
    /// `set_alpha_to_one`: the alphaBar stepped to below t = 0.
    public let setAlphaToOne: Bool
    /// The `eta` diffusers passes to `step()`.
    public var eta: Double
    /// Before `setTimesteps`: T-1...0, as diffusers initialises them.
    public private(set) var timesteps: [Int]
    /// `num_inference_steps`; nil until `setTimesteps`.
    public private(set) var inferenceSteps: Int?

    public init(schedule: NoiseSchedule = .recipe, config: DiffusersSchedulerConfig = .init(),
                setAlphaToOne: Bool = true, eta: Double = 0) {
        self.schedule = schedule
        self.config = config
        self.setAlphaToOne = setAlphaToOne
        self.eta = eta
        self.timesteps = Array((0..<schedule.count).reversed())
    }

    /// `final_alpha_cumprod`.
    public var finalAlphaCumprod: Double { setAlphaToOne ? 1 : schedule.alphasCumprod[0] }

    /// `set_timesteps(n)`.
    public mutating func setTimesteps(_ n: Int) throws {
        timesteps = try config.timestepSpacing.timesteps(inferenceSteps: n, trainSteps: schedule.count,
                                                         stepsOffset: config.stepsOffset)
        inferenceSteps = n
    }

    /// The timestep a step from t lands on: t - T div n (may be negative).
    public func previousTimestep(_ t: Int) -> Int {
        guard let n = inferenceSteps else { preconditionFailure("DDIMScheduler: call setTimesteps before stepping") }
        return t - schedule.count / n
    }

    /// alphaBar at a timestep, with `finalAlphaCumprod` below 0.
    public func alphaBarAt(_ t: Int) -> Double { t >= 0 ? schedule.alphasCumprod[t] : finalAlphaCumprod }

    public func drawsNoise(at t: Int) -> Bool { eta > 0 }

    public func step(index: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let t = timesteps[index]
        precondition((0..<schedule.count).contains(t), "DDIMScheduler: timestep \(t) outside 0..<\(schedule.count)")
        let alphaBar = alphaBarAt(t)
        let alphaBarPrev = alphaBarAt(previousTimestep(t))
        let sigma = DDIMUpdate.sigma(eta: eta, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev)
        return DDIMUpdate.step(eps: eps, x: x, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev,
                               sigma: sigma, clip: config.clip, noise: eta > 0 ? noise : nil)
    }
}
