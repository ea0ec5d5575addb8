import ArgumentParser
import Diffusion

// The command line's closed sets of names: --help lists their values and a wrong one is
// rejected while parsing, with the list, the same way everywhere.
extension ModelPreset: ExpressibleByArgument {}
extension SamplerName: ExpressibleByArgument {}
extension SpacingName: ExpressibleByArgument {}
extension EvaluationSkip: ExpressibleByArgument {}
extension FashionMNIST.Split: ExpressibleByArgument {}
extension ConvolutionAlgorithm: ExpressibleByArgument {}

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
extension WeightsChoice: ExpressibleByArgument {}
extension PredictionType: ExpressibleByArgument {}
