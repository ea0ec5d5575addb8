import ArgumentParser
import Diffusion

/// The parsed value behind an @Option, @Flag or @OptionGroup, seen through `Mirror`.
protocol ParsedProperty {
    var parsedValue: Any { get }
}

extension Option: ParsedProperty { var parsedValue: Any { wrappedValue } }
extension Flag: ParsedProperty { var parsedValue: Any { wrappedValue } }
extension OptionGroup: ParsedProperty { var parsedValue: Any { wrappedValue } }
extension Argument: ParsedProperty { var parsedValue: Any { wrappedValue } }

/// Option groups that hold per-rank choices (threads): left out of the cross-rank check.
protocol PerRankOptions {}

/// "maxLR" -> "--max-lr", "bucketMib" -> "--bucket-mib": ArgumentParser's default long names.
func flagName(_ field: String) -> String {
    var out = "--"
    let chars = Array(field)
    for (i, c) in chars.enumerated() {
        if c.isUppercase, i > 0,
           !chars[i - 1].isUppercase || (i + 1 < chars.count && chars[i + 1].isLowercase) {
            out.append("-")
        }
        out.append(Character(c.lowercased()))
    }
    return out
}

extension ParsableArguments {
    /// Every option, flag and argument of this command (option groups flattened) by flag
    /// name with its parsed value; `nil` for an optional that was not given.
    func optionValues() -> [(name: String, value: String?)] {
        Mirror(reflecting: self).children.flatMap { child -> [(name: String, value: String?)] in
            guard let label = child.label, let property = child.value as? ParsedProperty else { return [] }
            let value = property.parsedValue
            if let group = value as? ParsableArguments {
                return group is PerRankOptions ? [] : group.optionValues()
            }
            return [(flagName(String(label.drop { $0 == "_" })), describe(value))]
        }
    }

    /// The fields every rank of one job must agree on: all options except `perRank`
    /// (paths to per-host resources) and the per-rank option groups.
    func agreedFields(command: String, perRank: Set<String> = ["--data-dir", "--data-cache"]) -> [RankAgreement.Field] {
        [(RankAgreement.commandField, command)] + optionValues().filter { !perRank.contains($0.name) }.map { ($0.name, $0.value ?? "none") }
    }

    /// Field names ("batchSize") of the options given on the command line, for a group whose
    /// options are all Optional (a default would hide whether it was given).
    func givenFields() -> Set<String> {
        Set(Mirror(reflecting: self).children.compactMap { child in
            guard let label = child.label, let property = child.value as? ParsedProperty,
                  describe(property.parsedValue) != nil else { return nil }
            return String(label.drop { $0 == "_" })
        })
    }
}

/// A parsed value as the command line spells it; nil for an absent optional.
private func describe(_ value: Any) -> String? {
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
        guard let wrapped = mirror.children.first?.value else { return nil }
        return describe(wrapped)
    }
    if mirror.displayStyle == .collection {
        return mirror.children.map { describe($0.value) ?? "none" }.joined(separator: " ")
    }
    if let argument = value as? any ExpressibleByArgument { return argument.defaultValueDescription }
    return String(describing: value)
}
