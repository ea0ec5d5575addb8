/// SiLU (swish): y = x * sigmoid(x);  dy/dx = s (1 + x (1 - s)).
///
/// 8 lanes at a time with `FastMath.sigmoid` (libm's expf per element was the limit);
/// the scalar tail goes through the same vector code so every element rounds alike.
public enum SiLU {
    @inline(__always) package static func sigmoid(_ x: Float) -> Float { FastMath.sigmoid(x) }

    @inline(__always) package static func forward8(_ v: Float8) -> Float8 { v * FastMath.sigmoid(v) }

    @inline(__always) package static func backward8(_ v: Float8, _ d: Float8) -> Float8 {
        let s = FastMath.sigmoid(v)
        return d * s * (1 + v * (1 - s))
    }

    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(forward8(load8(x + i)), y + i); i += 8 }
            while i < r.upperBound { let v = x[i]; y[i] = v * sigmoid(v); i += 1 }
        }
    }

    /// dx = dy * silu'(x); dx may alias dy.
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, minChunk: 1 << 14) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(backward8(load8(x + i), load8(dy + i)), dx + i); i += 8 }
            while i < r.upperBound {
                let v = x[i], s = sigmoid(v)
                dx[i] = dy[i] * s * (1 + v * (1 - s))
                i += 1
            }
        }
    }
}
