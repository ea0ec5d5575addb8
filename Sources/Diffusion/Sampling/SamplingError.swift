/// What went wrong in choosing or running a sampler, with what is allowed instead.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case invalidSteps(sampler: String, steps: Int, allowed: ClosedRange<Int>)
    case invalidEta(sampler: String, eta: Double)
    case invalidOrder(sampler: String, order: Int)
    case unknownSpacing(sampler: String, spacing: String, allowed: [String])
    case optionNotApplicable(option: String, sampler: String, usedBy: [String])
    case timestepOutOfRange(what: String, timestep: Int, trainSteps: Int, hint: String)
    case streamCount(images: Int, streams: Int)
    case modelOutputShape(t: Int, expected: [Int], got: [Int])
    case imageCount(Int)
    case noiseShape(expected: [Int], got: [Int])
    case unknownClass(String, classes: Int)
    /// A class name not among a --data model's classes (its data.json).
    case unknownNamedClass(String, names: [String])
    case classAllCount(images: Int, classes: Int)
    case classRequired(classes: Int)
    case classNotSupported
    case classLabelCount(labels: Int, images: Int)

    public var description: String {
        switch self {
        case let .invalidSteps(sampler, steps, allowed):
            return "\(sampler): steps must be in \(allowed.lowerBound)...\(allowed.upperBound) (the schedule has \(allowed.upperBound) training steps), got \(steps)"
        case let .invalidEta(sampler, eta):
            return "\(sampler): eta must be in 0...1 (0 = deterministic DDIM, 1 = DDPM-like noise; above 1, 1 - alphaBarPrev - sigma^2 turns negative), got \(eta)"
        case let .invalidOrder(sampler, order):
            return "\(sampler): solver order must be 1, 2 or 3 (diffusers' solver_order), got \(order)"
        case let .unknownSpacing(sampler, spacing, allowed):
            return "\(sampler) does not take timestep spacing '\(spacing)'; expected one of: \(allowed.joined(separator: ", "))"
        case let .optionNotApplicable(option, sampler, usedBy):
            return "\(sampler) does not take \(option); \(option) applies to: \(usedBy.joined(separator: ", "))"
        case let .timestepOutOfRange(what, timestep, trainSteps, hint):
            return "\(what) gives timestep \(timestep), outside 0..<\(trainSteps): \(hint)"
        case let .streamCount(images, streams):
            return "sampling \(images) images needs one random stream per image, got \(streams) streams"
        case let .modelOutputShape(t, expected, got):
            return "the model returned shape \(got) at t = \(t); expected eps of the sample's shape \(expected)"
        case let .imageCount(n):
            return "\(n) images to sample; expected a count >= 0"
        case let .noiseShape(expected, got):
            return "the initial noise x_T has shape \(got) (NHWC); expected \(expected) for this model and image count"
        case let .unknownClass(text, classes):
            let names = FashionMNIST.classNames.prefix(classes).map { "'\($0)'" }.joined(separator: ", ")
            return "unknown class '\(text)'; expected an index in 0...\(classes - 1), a name (\(names)) or 'all'"
        case let .unknownNamedClass(text, names):
            let list = names.prefix(20).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 20 ? ", ..." : "")
            return "unknown class '\(text)'; expected an index in 0...\(names.count - 1), a name of the model's data (\(list)) or 'all'"
        case let .classAllCount(images, classes):
            return "--class all draws every class equally: --n must be a positive multiple of \(classes), got \(images)"
        case let .classRequired(classes):
            return "the model is class-conditional (num_class_embeds \(classes + 1): \(classes) classes and the null class, "
                + "trained with --conditional): give --class NAME|INDEX|all"
        case .classNotSupported:
            return "the model is unconditional (no num_class_embeds in its config.json): --class and --guidance-scale need a model "
                + "trained with `launcher train --conditional`"
        case let .classLabelCount(labels, images):
            return "\(labels) class labels for \(images) images; expected one per image"
        }
    }
}
