/// Size arithmetic that cannot wrap: counts and byte sizes built from user-controlled numbers
/// (config channels, --n, a file's shape) go through these before anything is allocated.
/// In a checked build a plain `*` that overflows traps; in the unchecked kernels it would wrap
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

    // The same arithmetic on numbers read from files, as plain optionals.

    /// The element count of `shape`, nil if a dimension is negative or the product
    /// does not fit in an Int.
    static func elementCount(_ shape: [Int]) -> Int? {
        shape.allSatisfy({ $0 >= 0 }) ? product(shape).value : nil
    }

    /// a * b, nil on overflow or a negative factor.
    static func multiply(_ a: Int, _ b: Int) -> Int? { elementCount([a, b]) }

    /// Whether bytes offset..<offset+length lie inside a buffer of `count` bytes, for an
    /// offset and a length read from a file (either may be negative or huge).
    static func fits(offset: Int, length: Int, in count: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= count && length <= count - offset
    }
}

extension Array where Element == Int {
    /// The element count of a tensor of this shape, nil if it overflows `Int`.
    public var checkedElementCount: Int? { CheckedSize.product(self).value }
}
