// diffusers' DDPMScheduler.step (0.42.1), variance_type fixed_small: `--sampler ddpm-diffusers`.

/// diffusers' `DDPMScheduler` (0.42.1), epsilon prediction, `variance_type = "fixed_small"`.
///
/// The step at t goes to t' = the next entry of `timesteps` (t - 1 before `setTimesteps`;
/// -1 after the last entry, where alphaBar_{-1} = 1). With a_t = alphaBar_t / alphaBar_{t'}
/// and beta_t = 1 - a_t (Ho et al. 2020, eq. 6-7, over the strided chain):
///
///     x0     = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t), clipped if clip_sample
///     mean   = sqrt(alphaBar_{t'}) beta_t / (1 - alphaBar_t) · x0
///            + sqrt(a_t) (1 - alphaBar_{t'}) / (1 - alphaBar_t) · x_t
///     sigma² = max(1e-20, (1 - alphaBar_{t'}) / (1 - alphaBar_t) · beta_t)
///     x_{t'} = mean + sigma z      (z only for t > 0)
public struct DDPMScheduler: DiffusionSampler {
    public let schedule: NoiseSchedule
    public let config: DiffusersSchedulerConfig
    /// Before `setTimesteps`: T-1...0, as diffusers initialises them.
    public private(set) var timesteps: [Int]
    /// `num_inference_steps`; nil until `setTimesteps`.
    public private(set) var inferenceSteps: Int?

    public init(schedule: NoiseSchedule = .recipe, config: DiffusersSchedulerConfig = .init()) {
        self.schedule = schedule
        self.config = config
        self.timesteps = Array((0..<schedule.count).reversed())
    }

    /// `set_timesteps(n)`.
    public mutating func setTimesteps(_ n: Int) throws {
        timesteps = try config.timestepSpacing.timesteps(inferenceSteps: n, trainSteps: schedule.count,
                                                         stepsOffset: config.stepsOffset)
        inferenceSteps = n
    }

    /// `previous_timestep(t)`: the entry after t in `timesteps`, -1 after the last.
    public func previousTimestep(_ t: Int) -> Int {
        guard inferenceSteps != nil else { return t - 1 }
        guard let i = timesteps.firstIndex(of: t) else {
            preconditionFailure("DDPMScheduler: timestep \(t) is not one of the \(timesteps.count) set timesteps")
        }
        return i + 1 < timesteps.count ? timesteps[i + 1] : -1
    }

    func alphaBarAt(_ t: Int) -> Double { t >= 0 ? schedule.alphasCumprod[t] : 1 }

    /// sigma² of the step from t ("fixed_small": the posterior variance, floored at 1e-20).
    public func variance(t: Int) -> Double {
        let alphaBar = alphaBarAt(t), alphaBarPrev = alphaBarAt(previousTimestep(t))
        let beta = 1 - alphaBar / alphaBarPrev
        return max(1e-20, (1 - alphaBarPrev) / (1 - alphaBar) * beta)
    }

    public func drawsNoise(at t: Int) -> Bool { t > 0 }

    public func step(index: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let t = timesteps[index]
        precondition((0..<schedule.count).contains(t), "DDPMScheduler: timestep \(t) outside 0..<\(schedule.count)")
        // 1. alphas of this (possibly strided) step
        let alphaBar = alphaBarAt(t)
        let alphaBarPrev = alphaBarAt(previousTimestep(t))
        let alpha = alphaBar / alphaBarPrev
        let beta = 1 - alpha
        // 2. predicted x0
        let x0 = StepArithmetic.predictX0(x: x, eps: eps, alphaBar: alphaBar)
        if let clip = config.clip { StepArithmetic.clamp(x0, to: clip) }
        // 3. posterior mean coefficients, then 4. noise
        let x0Coefficient = alphaBarPrev.squareRoot() * beta / (1 - alphaBar)
        let xtCoefficient = alpha.squareRoot() * (1 - alphaBarPrev) / (1 - alphaBar)
        let sigma = t > 0 ? variance(t: t).squareRoot() : 0
        let prev = StepArithmetic.combine(x0Coefficient, x0, xtCoefficient, x, sigma, noise)
        return (prev, x0)
    }
}
