/// Choosing a sampler: a name and options (from the command line) checked against the
/// registry (`SamplerRegistry.swift`) and the schedule length before anything runs.
extension SamplerSpec {
    /// The sampler `name` with `options`; unset options take the registry's defaults.
    /// Throws `SamplingError` naming the option, the sampler and what is allowed: an option
    /// the sampler does not take (with the samplers that do), or a value out of range.
    public static func parse(_ name: SamplerName, options: SamplerOptions,
                             trainSteps: Int = NoiseSchedule.recipe.count) throws -> SamplerSpec {
        let registration = name.registration
        for option in SamplerOption.allCases where options.has(option) && !registration.defaults.has(option) {
            throw SamplingError.optionNotApplicable(option: option.rawValue, sampler: name.rawValue,
                                                    usedBy: SamplerName.allCases.filter { $0.takes(option) }.map(\.rawValue))
        }
        let chosen = ChosenOptions(sampler: name, given: options, values: options.filled(from: registration.defaults),
                                   trainSteps: trainSteps)
        let spec = try registration.build(chosen)
        // Catches what only the timestep list shows (diffusers' trailing quirk).
        _ = try spec.makeSampler(schedule: trainSteps == NoiseSchedule.recipe.count ? .recipe : NoiseSchedule(steps: trainSteps))
        return spec
    }

    /// `parse` with the command line's flags: the DPM-Solver ones come grouped.
    public static func parse(_ name: SamplerName, steps: Int? = nil, eta: Double? = nil, spacing: SpacingName? = nil,
                             skip: EvaluationSkip? = nil, solver: SolverOptions = .init(),
                             trainSteps: Int = NoiseSchedule.recipe.count) throws -> SamplerSpec {
        try parse(name, options: SamplerOptions(steps: steps, eta: eta, spacing: spacing, skip: skip, order: solver.order,
                                                karras: solver.karras, lowerOrderFinal: solver.lowerOrderFinal),
                  trainSteps: trainSteps)
    }
}

extension SamplerName {
    /// Whether this sampler takes `option` (its registry row has a default for it).
    public func takes(_ option: SamplerOption) -> Bool { registration.defaults.has(option) }
}
