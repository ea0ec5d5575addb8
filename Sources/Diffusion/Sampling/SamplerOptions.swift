/// An option of `launcher sample` that only some samplers take (the registry says which).
public enum SamplerOption: String, CaseIterable, Sendable {
    case steps, eta, spacing, skip, order, karras
    case lowerOrderFinal = "lower-order-final"
}

/// Sampler options as given (nil: not given), or, in a registry row, each option the
/// sampler takes with its default (nil: not taken).
public struct SamplerOptions: Equatable, Sendable {
    public var steps: Int?
    public var eta: Double?
    public var spacing: SpacingName?
    var skip: EvaluationSkip?
    /// DPM-Solver's `solver_order`, 1...3.
    public var order: Int?
    /// DPM-Solver's `use_karras_sigmas`.
    var karras: Bool?
    /// DPM-Solver's `lower_order_final`.
    public var lowerOrderFinal: Bool?

    public init(steps: Int? = nil, eta: Double? = nil, spacing: SpacingName? = nil, skip: EvaluationSkip? = nil,
                order: Int? = nil, karras: Bool? = nil, lowerOrderFinal: Bool? = nil) {
        self.steps = steps; self.eta = eta; self.spacing = spacing; self.skip = skip
        self.order = order; self.karras = karras; self.lowerOrderFinal = lowerOrderFinal
    }

    public func has(_ option: SamplerOption) -> Bool {
        switch option {
        case .steps: return steps != nil
        case .spacing: return spacing != nil
        case .skip: return skip != nil
        case .eta: return eta != nil
        case .order: return order != nil
        case .karras: return karras != nil
        case .lowerOrderFinal: return lowerOrderFinal != nil
        }
    }

    /// These options, the unset ones taken from `defaults`.
    func filled(from defaults: SamplerOptions) -> SamplerOptions {
        SamplerOptions(steps: steps ?? defaults.steps, eta: eta ?? defaults.eta, spacing: spacing ?? defaults.spacing,
                       skip: skip ?? defaults.skip, order: order ?? defaults.order, karras: karras ?? defaults.karras,
                       lowerOrderFinal: lowerOrderFinal ?? defaults.lowerOrderFinal)
    }
}

/// The DPM-Solver options (nil: the sampler's default), as `launcher sample`'s flags group them.
public struct SolverOptions: Equatable, Sendable {
    /// `solver_order`, 1...3.
    public var order: Int?
    /// `use_karras_sigmas`.
    var karras: Bool?
    /// `lower_order_final`.
    public var lowerOrderFinal: Bool?

    public init(order: Int? = nil, karras: Bool? = nil, lowerOrderFinal: Bool? = nil) {
        self.order = order; self.karras = karras; self.lowerOrderFinal = lowerOrderFinal
    }
}

/// Every timestep spacing by name: diffusers' (`TimestepSpacing`) and the DDIM paper's
/// (`DDIMSpacing`); a sampler takes the family of its default spacing.
public enum SpacingName: String, CaseIterable, Sendable {
    case leading, trailing, linspace, uniform, quadratic

    /// The spacings of the same kind as this one, in their type's order.
    public var family: [SpacingName] {
        TimestepSpacing(rawValue: rawValue) != nil ? Self.names(TimestepSpacing.self) : Self.names(DDIMSpacing.self)
    }

    private static func names<S: CaseIterable & RawRepresentable>(_: S.Type) -> [SpacingName] where S.RawValue == String {
        S.allCases.map { SpacingName(rawValue: $0.rawValue)! }
    }
}

/// A sampler's options once checked: given values, else the registry's defaults. The
/// accessors check ranges and types and throw `SamplingError` naming the sampler.
struct ChosenOptions {
    let sampler: SamplerName
    /// What was given (to tell a default from a choice).
    let given: SamplerOptions
    let values: SamplerOptions
    let trainSteps: Int

    /// steps in 1...trainSteps.
    func steps() throws -> Int {
        let steps = value(values.steps, .steps)
        guard (1...trainSteps).contains(steps) else {
            throw SamplingError.invalidSteps(sampler: sampler.rawValue, steps: steps, allowed: 1...trainSteps)
        }
        return steps
    }

    /// eta in 0...1.
    func eta() throws -> Double {
        let eta = value(values.eta, .eta)
        guard eta.isFinite, (0...1).contains(eta) else { throw SamplingError.invalidEta(sampler: sampler.rawValue, eta: eta) }
        return eta
    }

    /// The spacing as the sampler's spacing type (`TimestepSpacing` or `DDIMSpacing`).
    func spacing<S: RawRepresentable & CaseIterable>() throws -> S where S.RawValue == String {
        let name = value(values.spacing, .spacing)
        guard let spacing = S(rawValue: name.rawValue) else {
            throw SamplingError.unknownSpacing(sampler: sampler.rawValue, spacing: name.rawValue,
                                               allowed: S.allCases.map(\.rawValue))
        }
        return spacing
    }

    var skip: EvaluationSkip { value(values.skip, .skip) }

    /// The solver order in 1...3.
    func order() throws -> Int {
        let order = value(values.order, .order)
        guard (1...3).contains(order) else { throw SamplingError.invalidOrder(sampler: sampler.rawValue, order: order) }
        return order
    }

    var karras: Bool { value(values.karras, .karras) }
    var lowerOrderFinal: Bool { value(values.lowerOrderFinal, .lowerOrderFinal) }

    /// Every option a builder reads has a default in its registry row (`parse` refuses the
    /// others before building), so a nil here is a registry mistake.
    private func value<T>(_ value: T?, _ option: SamplerOption) -> T {
        guard let value else { preconditionFailure("sampler registry: \(sampler.rawValue) reads \(option.rawValue) but has no default for it") }
        return value
    }
}
