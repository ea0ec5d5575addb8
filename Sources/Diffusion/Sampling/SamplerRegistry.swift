// The samplers, all in one place: their names, what each is, which options each takes with
// their defaults, and how each is built. `launcher sample --help` and the table in
// docs/sampling.md are made from here (`SamplerTable`); docs/architecture.md, "Adding a
// sampler", says what to add. Every switch below is exhaustive, so a new case in
// `SamplerName` makes the compiler list the places still to fill in.

/// The samplers by their command-line name.
public enum SamplerName: String, CaseIterable, Sendable {
    case ddpm
    case ddpmDiffusers = "ddpm-diffusers"
    case ddimDiffusers = "ddim-diffusers"
    case ddimRecipe = "ddim-recipe"
    case ddim
    case dpmSolverPlusPlus = "dpmsolver++"
    case sdeDPMSolverPlusPlus = "sde-dpmsolver++"
    case eulerAncestral = "euler-ancestral"
}

/// A sampler chosen with all its options, validated against the schedule length (`parse`).
public enum SamplerSpec: Equatable, Sendable {
    case ddpm(skip: EvaluationSkip)
    case ddpmDiffusers(steps: Int, spacing: TimestepSpacing)
    case ddimDiffusers(steps: Int, eta: Double, spacing: TimestepSpacing)
    case ddimRecipe(eta: Double, skip: EvaluationSkip)
    case ddim(steps: Int, eta: Double, spacing: DDIMSpacing)
    case dpmSolver(steps: Int, config: DPMSolverMultistepScheduler.Config)
    case eulerAncestral(steps: Int, spacing: TimestepSpacing)
}

/// One sampler's row of the registry.
public struct SamplerRegistration {
    /// What it is, one line (`--help`, docs/sampling.md).
    public let summary: String
    /// The type that implements it.
    public let implementation: String
    /// Each option it takes, set to its default; the options left nil are refused.
    public let defaults: SamplerOptions
    /// Model evaluations per image, for the docs (S: --steps).
    public let evaluations: String
    /// The spec from its options (given, else the defaults).
    let build: (ChosenOptions) throws -> SamplerSpec
}

extension SamplerName {
    public var registration: SamplerRegistration {
        switch self {
        case .ddpm:
            return SamplerRegistration(
                summary: "the recipe's ancestral sampler over t = 999..1; --skip recipe evaluates the model where t%3==0 or t<50",
                implementation: "RecipeDDPMSampler", defaults: SamplerOptions(skip: .recipe),
                evaluations: "366 (every-step: 999)") { .ddpm(skip: $0.skip) }
        case .ddpmDiffusers:
            return SamplerRegistration(
                summary: "diffusers' DDPMScheduler (fixed_small variance)",
                implementation: "DDPMScheduler", defaults: SamplerOptions(steps: 366, spacing: .leading),
                evaluations: "S") { .ddpmDiffusers(steps: try $0.steps(), spacing: try $0.spacing()) }
        case .ddimDiffusers:
            return SamplerRegistration(
                summary: "diffusers' DDIMScheduler, clip_sample on",
                implementation: "DDIMScheduler", defaults: SamplerOptions(steps: 366, eta: 0, spacing: .leading),
                evaluations: "S") { .ddimDiffusers(steps: try $0.steps(), eta: try $0.eta(), spacing: try $0.spacing()) }
        case .ddimRecipe:
            return SamplerRegistration(
                summary: "the recipe's own DDIM loop over t = 999..1",
                implementation: "RecipeDDIMSampler", defaults: SamplerOptions(eta: 1, skip: .evaluate367),
                evaluations: "367 (every10: 145)") { .ddimRecipe(eta: try $0.eta(), skip: $0.skip) }
        case .ddim:
            return SamplerRegistration(
                summary: "the DDIM paper's sampler (Song et al. 2020) over S strided timesteps",
                implementation: "DDIMPaperSampler", defaults: SamplerOptions(steps: 50, eta: 0, spacing: .uniform),
                evaluations: "S") { .ddim(steps: try $0.steps(), eta: try $0.eta(), spacing: try $0.spacing()) }
        case .dpmSolverPlusPlus, .sdeDPMSolverPlusPlus:
            let sde = self == .sdeDPMSolverPlusPlus
            return SamplerRegistration(
                summary: sde ? "the same, algorithm_type sde-dpmsolver++ (fresh noise every step)"
                    : "diffusers' DPMSolverMultistepScheduler, algorithm_type dpmsolver++ (DPM-Solver++ 2M by default); --karras replaces the spacing",
                implementation: "DPMSolverMultistepScheduler",
                defaults: SamplerOptions(steps: 20, spacing: .linspace, order: 2, karras: false, lowerOrderFinal: true),
                evaluations: "S") { try Self.dpmSolverSpec($0, algorithm: sde ? .sdeDPMSolverPlusPlus : .dpmSolverPlusPlus) }
        case .eulerAncestral:
            return SamplerRegistration(
                summary: "diffusers' EulerAncestralDiscreteScheduler",
                implementation: "EulerAncestralScheduler", defaults: SamplerOptions(steps: 20, spacing: .linspace),
                evaluations: "S") { .eulerAncestral(steps: try $0.steps(), spacing: try $0.spacing()) }
        }
    }

    /// Karras sigmas replace the spacing, so the two exclude each other.
    private static func dpmSolverSpec(_ o: ChosenOptions, algorithm: DPMSolverMultistepScheduler.Algorithm) throws -> SamplerSpec {
        if o.karras, o.given.spacing != nil {
            throw SamplingError.optionNotApplicable(
                option: SamplerOption.spacing.rawValue, sampler: o.sampler.rawValue,
                usedBy: ["dpmsolver++ and sde-dpmsolver++ without karras (Karras sigmas replace the spacing)"])
        }
        let config = DPMSolverMultistepScheduler.Config(
            algorithm: algorithm, solverOrder: try o.order(), lowerOrderFinal: o.lowerOrderFinal,
            timestepSpacing: try o.spacing(), useKarrasSigmas: o.karras)
        return .dpmSolver(steps: try o.steps(), config: config)
    }
}

extension SamplerSpec: CustomStringConvertible {
    public var name: SamplerName {
        switch self {
        case .ddpm: return .ddpm
        case .ddpmDiffusers: return .ddpmDiffusers
        case .ddimDiffusers: return .ddimDiffusers
        case .ddimRecipe: return .ddimRecipe
        case .ddim: return .ddim
        case let .dpmSolver(_, config):
            switch config.algorithm {
            case .dpmSolverPlusPlus: return .dpmSolverPlusPlus
            case .sdeDPMSolverPlusPlus: return .sdeDPMSolverPlusPlus
            }
        case .eulerAncestral: return .eulerAncestral
        }
    }

    public var description: String {
        switch self {
        case let .ddpm(skip): return "ddpm(skip: \(skip.rawValue))"
        case let .ddpmDiffusers(steps, spacing): return "ddpm-diffusers(steps: \(steps), spacing: \(spacing.rawValue))"
        case let .ddimDiffusers(steps, eta, spacing): return "ddim-diffusers(steps: \(steps), eta: \(eta), spacing: \(spacing.rawValue))"
        case let .ddimRecipe(eta, skip): return "ddim-recipe(eta: \(eta), skip: \(skip.rawValue))"
        case let .ddim(steps, eta, spacing): return "ddim(steps: \(steps), eta: \(eta), spacing: \(spacing.rawValue))"
        case let .dpmSolver(steps, c):
            return "\(c.algorithm.rawValue)(steps: \(steps), order: \(c.solverOrder), "
                + (c.useKarrasSigmas ? "karras sigmas" : "spacing: \(c.timestepSpacing.rawValue)")
                + (c.lowerOrderFinal ? "" : ", no lower-order final") + ")"
        case let .eulerAncestral(steps, spacing): return "euler-ancestral(steps: \(steps), spacing: \(spacing.rawValue))"
        }
    }

    /// The sampler this spec names, over `schedule`.
    public func makeSampler(schedule: NoiseSchedule = .recipe) throws -> any DiffusionSampler {
        switch self {
        case let .ddpm(skip):
            return RecipeDDPMSampler(schedule: schedule, skip: skip)
        case let .ddpmDiffusers(steps, spacing):
            var scheduler = DDPMScheduler(schedule: schedule, config: .init(timestepSpacing: spacing))
            try scheduler.setTimesteps(steps)
            return scheduler
        case let .ddimDiffusers(steps, eta, spacing):
            try Self.checkEta(eta, name)
            var scheduler = DDIMScheduler(schedule: schedule, config: .init(timestepSpacing: spacing), eta: eta)
            try scheduler.setTimesteps(steps)
            return scheduler
        case let .ddimRecipe(eta, skip):
            try Self.checkEta(eta, name)
            return RecipeDDIMSampler(schedule: schedule, eta: eta, skip: skip)
        case let .ddim(steps, eta, spacing):
            return try DDIMPaperSampler(schedule: schedule, steps: steps, eta: eta, spacing: spacing)
        case let .dpmSolver(steps, config):
            return try DPMSolverMultistepScheduler(schedule: schedule, config: config, steps: steps)
        case let .eulerAncestral(steps, spacing):
            return try EulerAncestralScheduler(schedule: schedule, timestepSpacing: spacing, steps: steps)
        }
    }

    /// A spec built by hand (not by `parse`) may carry any eta; the recipe's sampler would trap on it.
    private static func checkEta(_ eta: Double, _ name: SamplerName) throws {
        guard eta.isFinite, (0...1).contains(eta) else { throw SamplingError.invalidEta(sampler: name.rawValue, eta: eta) }
    }
}
