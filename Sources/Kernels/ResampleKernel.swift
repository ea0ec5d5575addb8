/// The loops of the U-Net's nearest-neighbour 2x upsampling and of its channel concatenation
/// (skip connections), on NHWC buffers. Shapes are checked by the callers (Layers/UpsampleAndConcat.swift).
public enum ResampleKernel {
    /// x: [n, h, w, c] -> y: [n, 2h, 2w, c],  y[b, 2i+a, 2j+e, ch] = x[b, i, j, ch]
    public static func upsample2x(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                  into y: UnsafeMutablePointer<Float>) {
        copyUpsampled(x, n: n, h: h, w: w, c: c, into: y)
    }

    /// `upsample2x` of bf16 elements.
    public static func upsample2x(_ x: UnsafePointer<UInt16>, n: Int, h: Int, w: Int, c: Int,
                                  into y: UnsafeMutablePointer<UInt16>) {
        copyUpsampled(x, n: n, h: h, w: w, c: c, into: y)
    }

    @inline(__always)
    private static func copyUpsampled<T>(_ x: UnsafePointer<T>, n: Int, h: Int, w: Int, c: Int, into y: UnsafeMutablePointer<T>) {
        Parallel.forEach(n * h) { row in
            let src = x + row * w * c
            let b = row / h, i = row % h
            for a in 0..<2 {
                let dst = y + ((b * 2 * h) + 2 * i + a) * 2 * w * c
                for j in 0..<w {
                    (dst + (2 * j) * c).update(from: src + j * c, count: c)
                    (dst + (2 * j + 1) * c).update(from: src + j * c, count: c)
                }
            }
        }
    }

    /// dy: [n, 2h, 2w, c] -> dx: [n, h, w, c], each dx the sum of its four copies.
    public static func upsample2xBackward(_ dy: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                                          into dx: UnsafeMutablePointer<Float>) {
        let (h2, w2) = (2 * h, 2 * w)
        Parallel.forEach(n * h) { row in
            let b = row / h, i = row % h
            let dst = dx + row * w * c
            let r0 = dy + (b * h2 + 2 * i) * w2 * c, r1 = r0 + w2 * c
            for j in 0..<w {
                let d = dst + j * c
                let p00 = r0 + 2 * j * c, p01 = p00 + c, p10 = r1 + 2 * j * c, p11 = p10 + c
                for ch in 0..<c { d[ch] = p00[ch] + p01[ch] + p10[ch] + p11[ch] }
            }
        }
    }

    /// Interleaves a [pixels, ca] and b [pixels, cb] into y [pixels, ca + cb].
    public static func concat(_ a: UnsafePointer<Float>, ca: Int, _ b: UnsafePointer<Float>, cb: Int,
                              pixels: Int, into y: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(pixels, minChunk: 1024) { r in
            for p in r {
                (y + p * (ca + cb)).update(from: a + p * ca, count: ca)
                (y + p * (ca + cb) + ca).update(from: b + p * cb, count: cb)
            }
        }
    }

    /// Splits dy [pixels, ca + cb] into da [pixels, ca] and db [pixels, cb].
    public static func split(_ dy: UnsafePointer<Float>, ca: Int, cb: Int, pixels: Int,
                             into da: UnsafeMutablePointer<Float>, _ db: UnsafeMutablePointer<Float>) {
        let c = ca + cb
        Parallel.forRanges(pixels, minChunk: 1024) { r in
            for p in r {
                (da + p * ca).update(from: dy + p * c, count: ca)
                (db + p * cb).update(from: dy + p * c + ca, count: cb)
            }
        }
    }
}
