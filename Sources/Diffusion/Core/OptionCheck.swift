/// A value out of its allowed range, named as the user gave it (`--max-lr`, or a field of a
/// stored file) with what was expected and what was found.
public struct OptionError: Error, CustomStringConvertible, Sendable, Equatable {
    public let option: String
    public let message: String

    public init(_ option: String, _ message: String) {
        self.option = option; self.message = message
    }

    public var description: String { "\(option) \(message)" }
}

/// The one "finite and in range" check every numeric option and stored field goes through,
/// so each error reads the same: `--max-lr must be a finite number in (0, 10], got inf`.
public enum OptionCheck {
    /// `value` finite and between `lower` and `upper` (each bound open or closed).
    public static func number(_ value: Double, _ name: String, _ lower: Double, _ upper: Double,
                              lowerOpen: Bool = false, upperOpen: Bool = false) throws {
        let aboveLower = lowerOpen ? value > lower : value >= lower
        let belowUpper = upperOpen ? value < upper : value <= upper
        guard value.isFinite, aboveLower, belowUpper else {
            let range = (lowerOpen ? "(" : "[") + format(lower) + ", " + format(upper) + (upperOpen ? ")" : "]")
            throw OptionError(name, "must be a finite number in \(range), got \(format(value))")
        }
    }

    /// `value` in `range`.
    public static func integer(_ value: Int, _ name: String, _ range: ClosedRange<Int>) throws {
        guard !range.contains(value) else { return }
        let expected = range.upperBound == Int.max ? ">= \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
        throw OptionError(name, "must be \(expected), got \(value)")
    }

    /// `a * b`, or an error naming what overflowed (a plan too large to count).
    public static func product(_ a: Int, _ b: Int, _ what: String) throws -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw OptionError(what, "overflows: \(a) x \(b) is more than \(Int.max)") }
        return p
    }

    public static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
    }
}
