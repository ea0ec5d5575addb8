// The DDIM paper's sampler (Song et al. 2020) over a strided subsequence, uniform/quadratic spacing: `--sampler ddim`.

/// DDIM over a subsequence tau of S timesteps (Song et al. 2021, eq. 12 and 16, Appendix D.2),
/// uniform or quadratic spacing; each step goes to the next smaller tau, the last (tau = 0) to
/// alphaBar = 1, so the output is the final x0 estimate (as in the paper's code):
///
///     x0       = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t)
///     sigma    = eta sqrt((1 - alphaBarPrev)/(1 - alphaBar_t)) sqrt(1 - alphaBar_t/alphaBarPrev)
///     x_prev   = sqrt(alphaBarPrev) x0 + sqrt(1 - alphaBarPrev - sigma²) eps + sigma z
///
/// eta = 0 (the default) is deterministic. No clipping. (diffusers' version is
/// `DDIMScheduler`; the recipe's own loop over every t is `RecipeDDIMSampler`.)
public struct DDIMPaperSampler: DiffusionSampler {
    public let schedule: NoiseSchedule
    public let eta: Double
    public let spacing: DDIMSpacing
    public let timesteps: [Int]

    public init(schedule: NoiseSchedule = .recipe, steps: Int, eta: Double = 0, spacing: DDIMSpacing = .uniform) throws {
        guard eta.isFinite, (0...1).contains(eta) else {
            throw SamplingError.invalidEta(sampler: SamplerName.ddim.rawValue, eta: eta)
        }
        self.schedule = schedule
        self.eta = eta
        self.spacing = spacing
        self.timesteps = try spacing.timesteps(steps: steps, trainSteps: schedule.count)
    }

    public func drawsNoise(at t: Int) -> Bool { eta > 0 }

    public func step(index: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let t = timesteps[index]
        let alphaBar = schedule.alphasCumprod[t]
        let alphaBarPrev = index + 1 < timesteps.count ? schedule.alphasCumprod[timesteps[index + 1]] : 1
        let sigma = DDIMUpdate.sigma(eta: eta, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev)
        return DDIMUpdate.step(eps: eps, x: x, alphaBar: alphaBar, alphaBarPrev: alphaBarPrev,
                               sigma: sigma, clip: nil, noise: noise)
    }
}
