/// Size arithmetic that cannot wrap: counts and byte sizes built from user-controlled numbers
/// (config channels, --n, a file's shape) go through these before anything is allocated.
/// The Diffusion target is built with -Ounchecked, where a plain `*` that overflows wraps
/// silently into a small or negative size.
public struct CheckedSize: Equatable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The value, or nil once any step overflowed `Int` (nil stays nil).
    public let value: Int?

    public init(_ value: Int?) { self.value = value }
    public init(integerLiteral value: Int) { self.value = value }

    public static let overflow = CheckedSize(nil)

    public static func + (a: CheckedSize, b: CheckedSize) -> CheckedSize {
        guard let x = a.value, let y = b.value else { return .overflow }
        let (r, o) = x.addingReportingOverflow(y)
        return o ? .overflow : CheckedSize(r)
    }

    public static func * (a: CheckedSize, b: CheckedSize) -> CheckedSize {
        guard let x = a.value, let y = b.value else { return .overflow }
        let (r, o) = x.multipliedReportingOverflow(by: y)
        return o ? .overflow : CheckedSize(r)
    }

    public static func - (a: CheckedSize, b: Int) -> CheckedSize {
        guard let x = a.value else { return .overflow }
        let (r, o) = x.subtractingReportingOverflow(b)
        return o ? .overflow : CheckedSize(r)
    }

    /// The larger of the two (an overflow is larger than anything).
    public static func maximum(_ a: CheckedSize, _ b: CheckedSize) -> CheckedSize {
        guard let x = a.value, let y = b.value else { return .overflow }
        return CheckedSize(Swift.max(x, y))
    }

    public static func + (a: CheckedSize, b: Int) -> CheckedSize { a + CheckedSize(b) }
    public static func * (a: CheckedSize, b: Int) -> CheckedSize { a * CheckedSize(b) }
    public static func * (a: Int, b: CheckedSize) -> CheckedSize { CheckedSize(a) * b }
    public static func += (a: inout CheckedSize, b: CheckedSize) { a = a + b }

    /// The product of `factors` (1 for none).
    public static func product<S: Sequence>(_ factors: S) -> CheckedSize where S.Element == Int {
        factors.reduce(CheckedSize(1)) { $0 * CheckedSize($1) }
    }

    public var description: String { value.map(String.init) ?? "more than \(Int.max)" }
}

extension Array where Element == Int {
    /// The element count of a tensor of this shape, nil if it overflows `Int`.
    public var checkedElementCount: Int? { CheckedSize.product(self).value }
}
