/// A sampler chosen by name and options (from the command line), validated against the
/// schedule length before anything runs.
///
/// | name             | options (default)                                   | sampler |
/// |------------------|-----------------------------------------------------|---------|
/// | `ddpm`           | skip (recipe)                                       | `RecipeDDPMSampler` |
/// | `ddpm-diffusers` | steps (366), spacing leading\|trailing\|linspace (leading) | `DDPMScheduler` |
/// | `ddim-diffusers` | steps (366), eta (0), spacing (leading)             | `DDIMScheduler`, clip_sample on |
/// | `ddim-recipe`    | eta (1), skip (367)                                 | `RecipeDDIMSampler` |
/// | `ddim`           | steps (50), eta (0), spacing uniform\|quadratic (uniform) | `DDIMSampler` |
/// | `dpmsolver++`    | steps (20), order 1\|2\|3 (2), spacing (linspace), karras (off), lower-order-final (on) | `DPMSolverMultistepScheduler` |
/// | `sde-dpmsolver++`| as dpmsolver++                                     | `DPMSolverMultistepScheduler`, SDE form |
/// | `euler-ancestral`| steps (20), spacing (linspace)                      | `EulerAncestralScheduler` |
///
/// Skip presets: all, recipe, 367, every10 (see `EvaluationSkip`). eta must be in 0...1.
/// Karras sigmas replace the spacing, so the two exclude each other.
public enum SamplerSpec: Equatable, Sendable, CustomStringConvertible {
    case ddpm(skip: EvaluationSkip)
    case ddpmDiffusers(steps: Int, spacing: TimestepSpacing)
    case ddimDiffusers(steps: Int, eta: Double, spacing: TimestepSpacing)
    case ddimRecipe(eta: Double, skip: EvaluationSkip)
    case ddim(steps: Int, eta: Double, spacing: DDIMSpacing)
    case dpmSolver(steps: Int, config: DPMSolverMultistepScheduler.Config)
    case eulerAncestral(steps: Int, spacing: TimestepSpacing)

    public static let names = SamplerName.allCases.map(\.rawValue)

    public var name: String {
        switch self {
        case .ddpm: return "ddpm"
        case .ddpmDiffusers: return "ddpm-diffusers"
        case .ddimDiffusers: return "ddim-diffusers"
        case .ddimRecipe: return "ddim-recipe"
        case .ddim: return "ddim"
        case let .dpmSolver(_, config): return config.algorithm.rawValue
        case .eulerAncestral: return "euler-ancestral"
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

    /// Parses a sampler name and its options; nil options take the defaults in the table.
    /// Throws `SamplingError` naming the bad value and what is allowed.
    public static func parse(_ name: String, steps: Int? = nil, eta: Double? = nil, spacing: String? = nil,
                             skip: String? = nil, solver: SolverOptions = .init(),
                             trainSteps: Int = NoiseSchedule.recipe.count) throws -> SamplerSpec {
        guard names.contains(name) else { throw SamplingError.unknownSampler(name, allowed: names) }
        func reject(_ option: String, _ value: Any?, usedBy: [String]) throws {
            if value != nil { throw SamplingError.optionNotApplicable(option: option, sampler: name, usedBy: usedBy) }
        }
        let fixedSteps = ["ddpm", "ddim-recipe"]  // the recipe's t = T-1...1
        if fixedSteps.contains(name) {
            try reject("steps", steps, usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])
            try reject("spacing", spacing, usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])
        } else {
            try reject("skip", skip, usedBy: fixedSteps)
        }
        let etaSamplers = ["ddim-diffusers", "ddim-recipe", "ddim"]
        if !etaSamplers.contains(name) { try reject("eta", eta, usedBy: etaSamplers) }
        let dpmSamplers = DPMSolverMultistepScheduler.Algorithm.allCases.map(\.rawValue)
        if !dpmSamplers.contains(name) {
            try reject("order", solver.order, usedBy: dpmSamplers)
            try reject("karras", solver.karras, usedBy: dpmSamplers)
            try reject("lower-order-final", solver.lowerOrderFinal, usedBy: dpmSamplers)
        } else if solver.karras == true {
            try reject("spacing", spacing, usedBy: ["dpmsolver++ and sde-dpmsolver++ without karras (Karras sigmas replace the spacing)"])
        }

        func parseSkip(_ fallback: EvaluationSkip) throws -> EvaluationSkip {
            guard let skip else { return fallback }
            guard let preset = EvaluationSkip(rawValue: skip) else {
                throw SamplingError.unknownSkip(sampler: name, skip: skip, allowed: EvaluationSkip.allCases.map(\.rawValue))
            }
            return preset
        }
        func parseEta(_ fallback: Double) throws -> Double {
            let eta = eta ?? fallback
            guard eta.isFinite, (0...1).contains(eta) else { throw SamplingError.invalidEta(sampler: name, eta: eta) }
            return eta
        }
        func parseSteps(_ fallback: Int) throws -> Int {
            let steps = steps ?? fallback
            guard (1...trainSteps).contains(steps) else {
                throw SamplingError.invalidSteps(sampler: name, steps: steps, allowed: 1...trainSteps)
            }
            return steps
        }
        func parseSpacing<S: RawRepresentable & CaseIterable>(_ fallback: S) throws -> S where S.RawValue == String {
            guard let spacing else { return fallback }
            guard let value = S(rawValue: spacing) else {
                throw SamplingError.unknownSpacing(sampler: name, spacing: spacing, allowed: S.allCases.map(\.rawValue))
            }
            return value
        }

        let spec: SamplerSpec
        switch name {
        case "ddpm": spec = .ddpm(skip: try parseSkip(.recipe))
        case "ddpm-diffusers": spec = .ddpmDiffusers(steps: try parseSteps(366), spacing: try parseSpacing(TimestepSpacing.leading))
        case "ddim-diffusers": spec = .ddimDiffusers(steps: try parseSteps(366), eta: try parseEta(0), spacing: try parseSpacing(TimestepSpacing.leading))
        case "ddim-recipe": spec = .ddimRecipe(eta: try parseEta(1), skip: try parseSkip(.evaluate367))
        case "ddim": spec = .ddim(steps: try parseSteps(50), eta: try parseEta(0), spacing: try parseSpacing(DDIMSpacing.uniform))
        case "euler-ancestral": spec = .eulerAncestral(steps: try parseSteps(20), spacing: try parseSpacing(TimestepSpacing.linspace))
        default:
            let algorithm = DPMSolverMultistepScheduler.Algorithm(rawValue: name)!
            let order = solver.order ?? 2
            guard (1...3).contains(order) else { throw SamplingError.invalidOrder(sampler: name, order: order) }
            let config = DPMSolverMultistepScheduler.Config(
                algorithm: algorithm, solverOrder: order, lowerOrderFinal: solver.lowerOrderFinal ?? true,
                timestepSpacing: try parseSpacing(TimestepSpacing.linspace), useKarrasSigmas: solver.karras ?? false)
            spec = .dpmSolver(steps: try parseSteps(20), config: config)
        }
        // Catches what only the timestep list shows (diffusers' trailing quirk).
        _ = try spec.makeSampler(schedule: trainSteps == NoiseSchedule.recipe.count ? .recipe : NoiseSchedule(steps: trainSteps))
        return spec
    }

    /// `parse` with typed names (a command line's enums); which sampler takes which option
    /// is still checked there.
    public static func parse(_ name: SamplerName, steps: Int? = nil, eta: Double? = nil, spacing: SpacingName? = nil,
                             skip: EvaluationSkip? = nil, solver: SolverOptions = .init()) throws -> SamplerSpec {
        try parse(name.rawValue, steps: steps, eta: eta, spacing: spacing?.rawValue, skip: skip?.rawValue, solver: solver)
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
            guard eta.isFinite, (0...1).contains(eta) else { throw SamplingError.invalidEta(sampler: name, eta: eta) }
            var scheduler = DDIMScheduler(schedule: schedule, config: .init(timestepSpacing: spacing), eta: eta)
            try scheduler.setTimesteps(steps)
            return scheduler
        case let .ddimRecipe(eta, skip):
            guard eta.isFinite, (0...1).contains(eta) else { throw SamplingError.invalidEta(sampler: name, eta: eta) }
            return RecipeDDIMSampler(schedule: schedule, eta: eta, skip: skip)
        case let .ddim(steps, eta, spacing):
            return try DDIMSampler(schedule: schedule, steps: steps, eta: eta, spacing: spacing)
        case let .dpmSolver(steps, config):
            return try DPMSolverMultistepScheduler(schedule: schedule, config: config, steps: steps)
        case let .eulerAncestral(steps, spacing):
            return try EulerAncestralScheduler(schedule: schedule, timestepSpacing: spacing, steps: steps)
        }
    }
}

/// The samplers by name (the table above).
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

/// The DPM-Solver options (nil: the default in the table above).
public struct SolverOptions: Equatable, Sendable {
    /// `solver_order`, 1...3.
    public var order: Int?
    /// `use_karras_sigmas`.
    public var karras: Bool?
    /// `lower_order_final`.
    public var lowerOrderFinal: Bool?

    public init(order: Int? = nil, karras: Bool? = nil, lowerOrderFinal: Bool? = nil) {
        self.order = order; self.karras = karras; self.lowerOrderFinal = lowerOrderFinal
    }
}

/// Every timestep spacing by name: diffusers' (`TimestepSpacing`) and the DDIM paper's
/// (`DDIMSpacing`); `SamplerSpec.parse` checks that the sampler takes the one given.
public enum SpacingName: String, CaseIterable, Sendable {
    case leading, trailing, linspace, uniform, quadratic
}
