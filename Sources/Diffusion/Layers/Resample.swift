/// Nearest-neighbour 2x upsampling and channel concatenation (U-Net skips), NHWC.
public enum Upsample2x {
    ///   x: [N, H, W, C] -> y: [N, 2H, 2W, C],  y[n, 2i+a, 2j+b, c] = x[n, i, j, c]
    public static func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(uninitialized: [n, 2 * h, 2 * w, c])
        Parallel.forEach(n * h) { row in
            let src = x.data + row * w * c
            let b = row / h, i = row % h
            for a in 0..<2 {
                let dst = y.data + ((b * 2 * h) + 2 * i + a) * 2 * w * c
                for j in 0..<w {
                    (dst + (2 * j) * c).update(from: src + j * c, count: c)
                    (dst + (2 * j + 1) * c).update(from: src + j * c, count: c)
                }
            }
        }
        return y
    }

    ///   dy: [N, 2H, 2W, C] -> dx: [N, H, W, C], each dx the sum of its four copies
    public static func backward(_ dy: Tensor) -> Tensor {
        let (n, h2, w2, c) = (dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3])
        let (h, w) = (h2 / 2, w2 / 2)
        let dx = Tensor(uninitialized: [n, h, w, c])
        Parallel.forEach(n * h) { row in
            let b = row / h, i = row % h
            let dst = dx.data + row * w * c
            let r0 = dy.data + (b * h2 + 2 * i) * w2 * c, r1 = r0 + w2 * c
            for j in 0..<w {
                let d = dst + j * c
                let p00 = r0 + 2 * j * c, p01 = p00 + c, p10 = r1 + 2 * j * c, p11 = p10 + c
                for ch in 0..<c { d[ch] = p00[ch] + p01[ch] + p10[ch] + p11[ch] }
            }
        }
        return dx
    }
}

public enum ChannelConcat {
    ///   a: [N, H, W, Ca], b: [N, H, W, Cb] -> [N, H, W, Ca + Cb]
    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        let ca = a.shape[3], cb = b.shape[3], pixels = a.count / ca
        precondition(pixels == b.count / cb, "concat: \(a.shape) and \(b.shape)")
        let y = Tensor(uninitialized: Array(a.shape.dropLast()) + [ca + cb])
        Parallel.forRanges(pixels, minChunk: 1024) { r in
            for p in r {
                (y.data + p * (ca + cb)).update(from: a.data + p * ca, count: ca)
                (y.data + p * (ca + cb) + ca).update(from: b.data + p * cb, count: cb)
            }
        }
        return y
    }

    ///   dy: [N, H, W, Ca + Cb] -> (da, db)
    public static func backward(_ dy: Tensor, split ca: Int) -> (Tensor, Tensor) {
        let c = dy.shape[3], cb = c - ca, pixels = dy.count / c
        let lead = Array(dy.shape.dropLast())
        let da = Tensor(uninitialized: lead + [ca]), db = Tensor(uninitialized: lead + [cb])
        Parallel.forRanges(pixels, minChunk: 1024) { r in
            for p in r {
                (da.data + p * ca).update(from: dy.data + p * c, count: ca)
                (db.data + p * cb).update(from: dy.data + p * c + ca, count: cb)
            }
        }
        return (da, db)
    }
}
