/// The noise level abar of the model's input at each timestep a sampler shows the model: what
/// `PredictionType.epsilonModel` converts at, so that it uses the very alpha and sigma the
/// sampler steps with (and diffusers' scheduler converts the raw output with).
///
/// - DDPM/DDIM samplers: abar_t of the schedule at the (integer) timestep.
/// - DPM-Solver and Euler ancestral: 1 / (1 + sigma_i^2) with sigma_i the step's Float32
///   noise level (`DiffusersSigmas`): under Karras sigmas the model sees the rounded timestep
///   but x sits at sigma_i; Euler's fractional timesteps have sigma interpolated linearly in t
///   (numpy.interp, as the scheduler does).
/// A timestep the sampler does not visit falls back to the schedule (or its interpolated
/// sigma between two timesteps). When two steps show the model the same timestep (Karras
/// sigmas can round two levels onto one t at few steps) the first step's level is used.
public struct SamplerNoiseLevels {
    let schedule: NoiseSchedule
    let visited: [Double: Double]

    public init(sampler: any DiffusionSampler, schedule: NoiseSchedule) {
        self.schedule = schedule
        let sigmas: [Float]?
        switch sampler {
        case let dpm as DPMSolverMultistepScheduler: sigmas = dpm.sigmas
        case let euler as EulerAncestralScheduler: sigmas = euler.sigmas
        default: sigmas = nil
        }
        var visited: [Double: Double] = [:]
        if let sigmas {
            for i in sampler.timesteps.indices where visited[sampler.modelTimestep(at: i)] == nil {
                let sigma = Double(sigmas[i])
                visited[sampler.modelTimestep(at: i)] = 1 / (1 + sigma * sigma)
            }
        }
        self.visited = visited
    }

    /// abar of the model's input at model timestep t.
    public func alphaBar(at t: Double) -> Double {
        if let level = visited[t] { return level }
        if t == t.rounded(), let i = Int(exactly: t), schedule.alphasCumprod.indices.contains(i) {
            return schedule.alphasCumprod[i]
        }
        let sigma = DiffusersSigmas.interpolate(DiffusersSigmas.table(schedule), at: t)
        return 1 / (1 + sigma * sigma)
    }
}

extension PredictionType {
    /// `model` as an eps model for `sampler` (see `epsilonModel(_:alphaBar:)`).
    public func epsilonModel(_ model: @escaping DenoisingModel, sampler: any DiffusionSampler,
                             schedule: NoiseSchedule) -> DenoisingModel {
        if self == .epsilon { return model }
        let levels = SamplerNoiseLevels(sampler: sampler, schedule: schedule)
        return epsilonModel(model, alphaBar: levels.alphaBar(at:))
    }
}
