import ArgumentParser
import Diffusion

// The command line's closed sets of names: --help lists their values and a wrong one is
// rejected while parsing, with the list, the same way everywhere.
extension ModelPreset: ExpressibleByArgument {}
extension SamplerName: ExpressibleByArgument {}
extension SpacingName: ExpressibleByArgument {}
extension EvaluationSkip: ExpressibleByArgument {
    /// `all`, the old name of `every-step`, is still taken.
    public init?(argument: String) { self.init(rawValue: argument == "all" ? Self.everyStep.rawValue : argument) }
}
extension FashionMNIST.Split: ExpressibleByArgument {}
extension ConvolutionAlgorithm: ExpressibleByArgument {}
extension ConvolutionLibrary: ExpressibleByArgument {}
extension PrecisionRequest: ExpressibleByArgument {}
extension WeightsChoice: ExpressibleByArgument {}
extension PredictionType: ExpressibleByArgument {}
extension KernelBenchmarks.Name: ExpressibleByArgument {}

// Values from an open set (a path, a class name or index), whose parse says why it refused
// one. ArgumentParser's `init?(argument:)` cannot say why, so an option of such a type is
// declared with `transform: T.init(parsing:)`: the reason, with what is allowed, then follows
// ArgumentParser's "The value 'x' is invalid for '--flag <flag>'". `init?(argument:)` serves
// the rest (default values, the rank agreement's spelling of the value).

/// `fid --samples`: a .npy or .npz, or real:train / real:test.
extension SampleSource: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = try? SampleSource(parsing: argument) else { return nil }
        self = value
    }

    public static var defaultCompletionKind: CompletionKind { .file(extensions: ["npy", "npz"]) }
}

/// `sample --class`: a class name, its index, or all (the parse is `ClassChoice.parse`).
extension ClassChoice: ExpressibleByArgument {
    init(parsing text: String) throws { self = try ClassChoice.parse(text) }

    public init?(argument: String) {
        guard let value = try? ClassChoice.parse(argument) else { return nil }
        self = value
    }

    public static var defaultCompletionKind: CompletionKind {
        .list(["all"] + FashionMNIST.classNames + FashionMNIST.classNames.indices.map(String.init))
    }
}

/// A byte count with an optional K or M suffix (1024, 1024²): `bench allreduce --sizes`.
struct ByteCount: ExpressibleByArgument, Equatable {
    let bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let unit: Int
        switch argument.last {
        case "K", "k": unit = 1 << 10
        case "M", "m": unit = 1 << 20
        default: unit = 1
        }
        guard let number = Int(unit == 1 ? argument : String(argument.dropLast())), number >= 0 else { return nil }
        let (total, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        bytes = total
    }

    var defaultValueDescription: String { "\(bytes)" }
}

/// ArgumentParser reads "-1" after an option as another option ("Missing value for --n").
/// Joining a negative number to the option before it ("--n=-1") lets it parse, so range
/// checks can say what is allowed.
func attachingNegativeNumbers(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var index = 0
    while index < arguments.count {
        let word = arguments[index]
        if word == "--" { out += arguments[index...]; break }
        if word.hasPrefix("--"), !word.contains("="), index + 1 < arguments.count, looksNegative(arguments[index + 1]) {
            out.append(word + "=" + arguments[index + 1])
            index += 2
        } else {
            out.append(word)
            index += 1
        }
    }
    return out
}

private func looksNegative(_ word: String) -> Bool {
    guard word.hasPrefix("-"), word.count > 1 else { return false }
    return Double(word) != nil
}
