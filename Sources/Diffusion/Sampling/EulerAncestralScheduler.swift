// diffusers' EulerAncestralDiscreteScheduler.step (0.42.1): `--sampler euler-ancestral`.

import Foundation

/// diffusers' `EulerAncestralDiscreteScheduler` for an epsilon-predicting model: the
/// ancestral Euler sampler of Karras et al. 2022 (k-diffusion's `sample_euler_ancestral`)
/// in the variable x~ = x_t / alpha_t = x0 + sigma eps (`DiffusersSigmas`). Step i goes from
/// sigma = sigmas[i] to sigma' = sigmas[i+1]:
///
///     x0       = x~ - sigma eps
///     sigma_up = sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2),  sigma_down = sqrt(sigma'^2 - sigma_up^2)
///     x~'      = x~ + (x~ - x0)/sigma · (sigma_down - sigma) + sigma_up z
///
/// The last step lands on sigma' = 0 (x~' = x0, z drawn but weighted 0). diffusers starts
/// from x~ = init_noise_sigma · noise, with init_noise_sigma = max sigma (linspace, trailing)
/// or sqrt(max sigma^2 + 1) (leading), and feeds the model x~ / sqrt(sigma^2 + 1).
///
/// This type carries the model's input x_t = x~ / sqrt(sigma^2 + 1) between steps, so the run
/// loop stays the one of the VP samplers; `veSample` converts back. Timesteps follow
/// diffusers' spacings for n steps: linspace (the default) gives fractional timesteps
/// (numpy.linspace(0, T-1, n) in Float32), which the model sees as they are; sigma there is
/// numpy.interp of the table.
public struct EulerAncestralScheduler: DiffusionSampler {
    public let schedule: NoiseSchedule
    public let timestepSpacing: TimestepSpacing
    /// The model's timestep at each step (Float32 values, fractional under linspace).
    public let modelTimesteps: [Float]
    /// `modelTimesteps` rounded (progress, keys); the model sees `modelTimesteps`.
    public let timesteps: [Int]
    /// The noise level of each step and, last, 0 (Float32 as diffusers stores them).
    public let sigmas: [Float]

    /// `set_timesteps(steps)`, steps in 1...T.
    public init(schedule: NoiseSchedule = .recipe, timestepSpacing: TimestepSpacing = .linspace, stepsOffset: Int = 0,
                steps n: Int) throws {
        let T = schedule.count
        guard (1...T).contains(n) else {
            throw SamplingError.invalidSteps(sampler: "EulerAncestralDiscreteScheduler", steps: n, allowed: 1...T)
        }
        let values: [Float]
        switch timestepSpacing {
        case .linspace:  // numpy.linspace(0, T-1, n, dtype=float32), reversed
            let step = Double(T - 1) / Double(max(n - 1, 1))
            values = (0..<n).map { i in Float(i == n - 1 && n > 1 ? Double(T - 1) : Double(i) * step) }.reversed()
        case .leading, .trailing:
            values = try timestepSpacing.timesteps(inferenceSteps: n, trainSteps: T, stepsOffset: stepsOffset).map(Float.init)
        }
        let table = DiffusersSigmas.table(schedule)
        self.schedule = schedule
        self.timestepSpacing = timestepSpacing
        self.modelTimesteps = values
        self.timesteps = values.map { Int($0.rounded(.toNearestOrEven)) }
        self.sigmas = values.map { Float(DiffusersSigmas.interpolate(table, at: Double($0))) } + [0]
    }

    /// diffusers' `init_noise_sigma`.
    public var initNoiseSigma: Double {
        let maxSigma = Double(sigmas.max() ?? 0)
        return timestepSpacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }

    public func modelTimestep(at index: Int) -> Double { Double(modelTimesteps[index]) }

    public func drawsNoise(at t: Int) -> Bool { true }

    /// sqrt(sigma^2 + 1) at step i (i = count: the final sigma 0).
    func inputScale(_ i: Int) -> Double { (Double(sigmas[i]) * Double(sigmas[i]) + 1).squareRoot() }

    /// x_T = init_noise_sigma · noise / sqrt(sigma_0^2 + 1).
    public func initialSample(noise: Tensor) -> Tensor {
        StepArithmetic.scaled(noise, by: initNoiseSigma / inputScale(0))
    }

    /// diffusers' sample x~ before step i (i = count: after the last) from the model input x_t.
    public func veSample(_ x: Tensor, beforeStep i: Int) -> Tensor { StepArithmetic.scaled(x, by: inputScale(i)) }

    public func step(index i: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let sigma = Double(sigmas[i]), sigmaNext = Double(sigmas[i + 1])
        let scale = inputScale(i), scaleNext = inputScale(i + 1)
        let sigmaUp = (sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext) / (sigma * sigma)).squareRoot()
        let sigmaDown = (sigmaNext * sigmaNext - sigmaUp * sigmaUp).squareRoot()
        // x~ = scale x;  x0 = x~ - sigma eps;  x~' = x~ + eps (sigma_down - sigma) + sigma_up z;  x' = x~' / scale'
        let x0 = StepArithmetic.combine(scale, x, -sigma, eps)
        let prev = StepArithmetic.combine(scale / scaleNext, x, (sigmaDown - sigma) / scaleNext, eps,
                                          sigmaUp / scaleNext, noise)
        return (prev, x0)
    }
}
