/// bfloat16: the upper 16 bits of a Float32 (8-bit exponent, 7-bit mantissa). Rounding is to
/// nearest, ties to even, as oneDNN's reorders, `vcvtneps2bf16` and PyTorch's `.to(bfloat16)`
/// round; widening is exact.
package enum BFloat16 {
    /// x rounded to the nearest bfloat16. NaN stays NaN (a quiet one).
    @inline(__always) package static func round(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    @inline(__always) package static func widen(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// dst[i] = round(src[i]).
    package static func round(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { dst[i] = round(src[i]) }
    }

    /// dst[i] = widen(src[i]).
    package static func widen(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = widen(src[i]) }
    }
}
