import Kernels

/// Nearest-neighbour 2x upsampling and channel concatenation (U-Net skips), NHWC.
/// The loops are `ResampleKernel`'s; these check the shapes.
public enum Upsample2x {
    ///   x: [N, H, W, C] -> y: [N, 2H, 2W, C],  y[n, 2i+a, 2j+b, c] = x[n, i, j, c]
    public static func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "upsample: expected [N, H, W, C], got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(uninitialized: [n, 2 * h, 2 * w, c])
        ResampleKernel.upsample2x(x.data, n: n, h: h, w: w, c: c, into: y.data)
        return y
    }

    /// `forward` of a bf16 tensor (rounding commutes with copying: the same as rounding after).
    static func forward(_ x: BF16Tensor) -> BF16Tensor {
        precondition(x.shape.count == 4, "upsample: expected [N, H, W, C], got \(x.shape)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = BF16Tensor(uninitialized: [n, 2 * h, 2 * w, c])
        ResampleKernel.upsample2x(x.data, n: n, h: h, w: w, c: c, into: y.data)
        return y
    }

    ///   dy: [N, 2H, 2W, C] -> dx: [N, H, W, C], each dx the sum of its four copies
    public static func backward(_ dy: Tensor) -> Tensor {
        precondition(dy.shape.count == 4 && dy.shape[1] % 2 == 0 && dy.shape[2] % 2 == 0,
                     "upsample backward: expected [N, 2H, 2W, C], got \(dy.shape)")
        let (n, h, w, c) = (dy.shape[0], dy.shape[1] / 2, dy.shape[2] / 2, dy.shape[3])
        let dx = Tensor(uninitialized: [n, h, w, c])
        ResampleKernel.upsample2xBackward(dy.data, n: n, h: h, w: w, c: c, into: dx.data)
        return dx
    }
}

public enum ChannelConcat {
    ///   a: [N, H, W, Ca], b: [N, H, W, Cb] -> [N, H, W, Ca + Cb]
    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        let ca = a.shape[3], cb = b.shape[3], pixels = a.count / ca
        precondition(a.shape.dropLast() == b.shape.dropLast(), "concat: \(a.shape) and \(b.shape)")
        let y = Tensor(uninitialized: Array(a.shape.dropLast()) + [ca + cb])
        ResampleKernel.concat(a.data, ca: ca, b.data, cb: cb, pixels: pixels, into: y.data)
        return y
    }

    ///   dy: [N, H, W, Ca + Cb] -> (da, db)
    public static func backward(_ dy: Tensor, split ca: Int) -> (Tensor, Tensor) {
        let c = dy.shape[3], cb = c - ca, pixels = dy.count / c
        precondition(ca > 0 && cb > 0, "concat backward: split \(ca) of \(c) channels")
        let lead = Array(dy.shape.dropLast())
        let da = Tensor(uninitialized: lead + [ca]), db = Tensor(uninitialized: lead + [cb])
        ResampleKernel.split(dy.data, ca: ca, cb: cb, pixels: pixels, into: da.data, db.data)
        return (da, db)
    }
}
