/// Size arithmetic on numbers read from files: a product that overflows, or a negative
/// factor, is reported as nil instead of trapping (checked builds) or wrapping (unchecked).
enum CheckedSize {
    /// The number of elements of `shape`, nil if a dimension is negative or the product
    /// does not fit in an Int.
    static func product(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    /// a * b, nil on overflow or a negative factor.
    static func multiply(_ a: Int, _ b: Int) -> Int? { product([a, b]) }

    /// Whether bytes offset..<offset+length lie inside a buffer of `count` bytes, for an
    /// offset and a length read from a file (either may be negative or huge).
    static func fits(offset: Int, length: Int, in count: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= count && length <= count - offset
    }
}
