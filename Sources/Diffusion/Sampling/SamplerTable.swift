import Foundation

/// The sampler registry as text: the list in `launcher sample --help` and the table in
/// docs/sampling.md (a test keeps the doc equal to `markdown`).
public enum SamplerTable {
    /// The options `name` takes as flags with their defaults, e.g.
    /// "--steps (50), --eta (0), --spacing uniform|quadratic (uniform)".
    public static func options(of name: SamplerName) -> String {
        let d = name.registration.defaults
        let parts: [String] = SamplerOption.allCases.compactMap { option in
            switch option {
            case .steps: return d.steps.map { "--steps (\($0))" }
            case .spacing: return d.spacing.map { "--spacing \($0.family.map(\.rawValue).joined(separator: "|")) (\($0.rawValue))" }
            case .skip: return d.skip.map { "--skip \(EvaluationSkip.allCases.map(\.rawValue).joined(separator: "|")) (\($0.rawValue))" }
            case .eta: return d.eta.map { "--eta (\(format($0)))" }
            case .order: return d.order.map { "--order 1|2|3 (\($0))" }
            case .karras: return d.karras.map { "--karras (\($0 ? "on" : "off"))" }
            case .lowerOrderFinal: return d.lowerOrderFinal.map { $0 ? "--no-lower-order-final" : "--lower-order-final" }
            }
        }
        return parts.isEmpty ? "no options" : parts.joined(separator: ", ")
    }

    /// Per sampler: its name, what it is and its type, then its options and model evaluations,
    /// wrapped to `width` columns (ArgumentParser wraps lines near 80 without the indent).
    public static func help(width: Int = 76) -> String {
        let column = SamplerName.allCases.map(\.rawValue.count).max()! + 4
        return SamplerName.allCases.map { name in
            let r = name.registration
            let text = "\(r.summary) (\(r.implementation)). \(options(of: name)); model evaluations: \(r.evaluations)"
            let lines = wrap(text, width: width - column)
            let first = "  " + name.rawValue + String(repeating: " ", count: column - 2 - name.rawValue.count)
            return ([first + lines[0]] + lines.dropFirst().map { String(repeating: " ", count: column) + $0 })
                .joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Words of `text` in lines of at most `width` characters (a longer word gets a line of its own).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }

    /// The table of docs/sampling.md, "The samplers".
    public static var markdown: String {
        let rows = SamplerName.allCases.map { name in
            let r = name.registration
            let cells = ["`\(name.rawValue)`", r.summary, options(of: name), "`\(r.implementation)`", r.evaluations]
            return "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        return (["| `--sampler` | what | options (default) | type | model evaluations |", "|---|---|---|---|---:|"] + rows)
            .joined(separator: "\n")
    }

    private static func format(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
}
