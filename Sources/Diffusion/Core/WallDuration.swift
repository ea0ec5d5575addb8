import Foundation

/// A length of wall time as a user writes it: `90s`, `10m`, `1.5h`, `1h30m`, `2m30s`.
/// Every number needs its unit, so `--time-budget 10` cannot be misread as steps or minutes.
public struct WallDuration: Equatable, Sendable, CustomStringConvertible {
    public let seconds: Double

    /// The longest duration accepted: a year, far past any run, and small enough that a
    /// step count derived from it stays countable.
    public static let maxSeconds = 365.0 * 24 * 3600

    public init(seconds: Double) { self.seconds = seconds }

    /// Parses `text`; `name` is the flag for the error ("--time-budget").
    public init(parsing text: String, name: String) throws {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        let expected = "expected a duration with units, such as 90s, 10m, 1.5h or 1h30m"
        var total = 0.0, number = "", sawUnit = false
        for c in text.trimmingCharacters(in: .whitespaces) {
            if c.isNumber || c == "." {
                number.append(c)
            } else if let unit = units[Character(c.lowercased())], let value = Double(number), value.isFinite {
                total += value * unit; number = ""; sawUnit = true
            } else {
                throw OptionError(name, "is '\(text)': \(expected)")
            }
        }
        guard sawUnit, number.isEmpty else { throw OptionError(name, "is '\(text)': \(expected)") }
        guard total > 0, total <= Self.maxSeconds else {
            throw OptionError(name, "is '\(text)': must be more than 0 s and at most a year")
        }
        seconds = total
    }

    /// `1h02m03s`, `10m00s`, `42.5s`: what the logs print.
    public var description: String { Self.format(seconds) }

    public static func format(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 60 else { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
