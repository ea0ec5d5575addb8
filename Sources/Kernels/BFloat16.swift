import CAVX512

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

    /// Whether the AVX-512 kernels that write bf16 round with `vcvtneps2bf16` (AVX512-BF16)
    /// rather than in software: the same values, but denormal inputs (|x| < 2^-126) become
    /// signed zero, as in oneDNN's conversion on such CPUs. `round(_:)` keeps them.
    package static let roundsNatively = KernelPath.avx512BF16Available

    /// dst[i] = round(src[i]) (`native`: see `roundsNatively`).
    package static func round(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int,
                              path: KernelPath = .best, native: Bool = roundsNatively) {
        if path.runsAVX512(when: true) { return avx512_round_to_bf16(src, dst, count, native ? 1 : 0) }
        for i in 0..<count { dst[i] = round(src[i]) }
    }

    /// dst[i] = widen(src[i]).
    package static func widen(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = widen(src[i]) }
    }
}

/// An activation as a product reads it (row-major or NHWC): fp32, or already rounded to bf16,
/// which a bf16 oneDNN primitive reads as it is instead of converting it first.
package enum ActivationInput {
    case fp32(UnsafePointer<Float>), bf16(UnsafePointer<UInt16>)

    /// Element `offset`'s address.
    package func element(_ offset: Int) -> UnsafeRawPointer {
        switch self {
        case .fp32(let p): return UnsafeRawPointer(p + offset)
        case .bf16(let p): return UnsafeRawPointer(p + offset)
        }
    }

    package var isBF16: Bool { if case .bf16 = self { return true } else { return false } }

    /// fp32 for the paths that only read fp32: the pointer itself, or a widened copy of the
    /// first `count` elements for the duration of `body`.
    package func withFP32<R>(count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
        switch self {
        case .fp32(let p): return body(p)
        case .bf16(let p):
            let wide = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            defer { wide.deallocate() }
            BFloat16.widen(p, wide, count: count)
            return body(wide)
        }
    }
}
