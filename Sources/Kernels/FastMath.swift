/// Vectorised elementary functions and 8-lane load/store helpers for the hot loops.
///
/// One `SIMD8<Float>` is one AVX2 register with the package's `-target-cpu haswell`; libm's
/// `expf` is a call per element and tops out at 4-5 GB/s (docs/kernels.md), which made softmax
/// and SiLU the largest items in the profile.
public typealias Float8 = SIMD8<Float>

@inline(__always) package func load8(_ p: UnsafePointer<Float>) -> Float8 {
    UnsafeRawPointer(p).loadUnaligned(as: Float8.self)
}

@inline(__always) package func load8(_ p: UnsafeMutablePointer<Float>) -> Float8 {
    UnsafeRawPointer(p).loadUnaligned(as: Float8.self)
}

@inline(__always) package func store8(_ v: Float8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float8.self)
}

@inline(__always) package func hsum(_ v: Float8) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    return b[0] + b[1]
}

/// Lane-wise max and min. The standard library's `pointwiseMax`/`pointwiseMin` compile to
/// calls into a generic lane loop here; compare-and-replace becomes one vmaxps/vminps.
@inline(__always) package func vmax(_ a: Float8, _ b: Float8) -> Float8 { a.replacing(with: b, where: a .< b) }
@inline(__always) package func vmin(_ a: Float8, _ b: Float8) -> Float8 { a.replacing(with: b, where: b .< a) }

@inline(__always) package func hmax(_ v: Float8) -> Float {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.lowHalf .< v.highHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.lowHalf .< a.highHalf)
    return max(b[0], b[1])
}

public enum FastMath {
    /// e^x, relative error about 1e-7 (float rounding; the polynomial alone is 2e-9).
    ///
    /// x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2 (ln2 split in two so n ln2 is
    /// exact enough for |x| up to 88); e^r by a degree-6 polynomial fitted for relative
    /// error on that interval; 2^n built in the exponent bits. Inputs are clamped to
    /// [-87, 88.37]: results stay normal floats (e^-87 ~ 1.6e-38 stands in for smaller values,
    /// which is zero for softmax and sigmoid purposes) and never overflow.
    @inline(__always) public static func exp(_ x: Float8) -> Float8 {
        let x = vmin(vmax(x, Float8(repeating: -87)), Float8(repeating: 88.37))
        // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low mantissa bits.
        let magic = Float8(repeating: 12_582_912)
        let t = magic.addingProduct(x, Float8(repeating: 1.442_695_0))
        let n = t - magic
        var r = x.addingProduct(n, Float8(repeating: -0.693_147_18))
        r = r.addingProduct(n, Float8(repeating: 1.904_654_2e-9))
        var p = Float8(repeating: 0.001_383_684_6)
        p = Float8(repeating: 0.008_374_816).addingProduct(p, r)
        p = Float8(repeating: 0.041_668_225).addingProduct(p, r)
        p = Float8(repeating: 0.166_664_2).addingProduct(p, r)
        p = Float8(repeating: 0.499_999_9).addingProduct(p, r)
        p = Float8(repeating: 1).addingProduct(p, r)
        p = Float8(repeating: 1).addingProduct(p, r)
        // t's bit pattern is 0x4B40_0000 + n: shifted left by 23, n lands in the exponent
        // field (the rest shifts out), and an integer add scales p (in [0.7, 1.42]) by 2^n
        // without a multiply. Exponents stay in 1...254 for x in the clamped range, except
        // the last ~1e-38 near -87, which come out as tiny denormals.
        let bits = unsafeBitCast(p, to: SIMD8<Int32>.self) &+ (unsafeBitCast(t, to: SIMD8<Int32>.self) &<< 23)
        return unsafeBitCast(bits, to: Float8.self)
    }

    /// e^x for x <= 0 (softmax after subtracting the row maximum), relative error 2.5e-7.
    /// Cheaper than `exp` where softmax spends its time, in the FMA pipes: no upper clamp,
    /// ln2 in one piece (at most 2.4e-7 more, near x = -87 where values are ~1e-38), a
    /// degree-5 polynomial (fitted like `exp`'s, 2.1e-7 evaluated in Float), and 2^n added
    /// to the exponent bits with an integer add instead of a multiply. Below about -87 the
    /// result is a tiny denormal-ish value instead of e^x: zero for softmax purposes.
    @inline(__always) public static func expNonPositive(_ x: Float8) -> Float8 {
        let x = vmax(x, Float8(repeating: -87))
        let magic = Float8(repeating: 12_582_912)
        let t = magic.addingProduct(x, Float8(repeating: 1.442_695_0))
        let n = t - magic
        let r = x.addingProduct(n, Float8(repeating: -0.693_147_18))
        var p = Float8(repeating: 0.008_297_655)
        p = Float8(repeating: 0.041_915_383).addingProduct(p, r)
        p = Float8(repeating: 0.166_675_75).addingProduct(p, r)
        p = Float8(repeating: 0.499_988_94).addingProduct(p, r)
        p = Float8(repeating: 0.999_999_7).addingProduct(p, r)
        p = Float8(repeating: 1.000_000_1).addingProduct(p, r)
        let bits = unsafeBitCast(p, to: SIMD8<Int32>.self) &+ (unsafeBitCast(t, to: SIMD8<Int32>.self) &<< 23)
        return unsafeBitCast(bits, to: Float8.self)
    }

    /// sigmoid(x) = 1 / (1 + e^-x).
    @inline(__always) public static func sigmoid(_ x: Float8) -> Float8 {
        1 / (1 + exp(-x))
    }

    /// e^x for one value, through the vector path so scalar tails round like the body.
    @inline(__always) public static func exp(_ x: Float) -> Float {
        exp(Float8(repeating: x))[0]
    }

    @inline(__always) public static func sigmoid(_ x: Float) -> Float {
        sigmoid(Float8(repeating: x))[0]
    }
}
