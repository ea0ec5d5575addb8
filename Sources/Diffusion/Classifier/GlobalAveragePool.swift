/// Global average pooling over the spatial axes, NHWC: the classifier's feature layer.
///
///   forward   x: [N, H, W, C] -> y: [N, C],         y[n, c] = Σ_{h,w} x[n, h, w, c] / (H W)
///   backward  dy: [N, C] -> dx: [N, H, W, C],       dx[n, h, w, c] = dy[n, c] / (H W)
public enum GlobalAveragePool {
    public static func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4, "global average pool expects [N,H,W,C], got \(x.shape)")
        let (n, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let y = Tensor(shape: [n, c])
        let inv = 1 / Float(pixels)
        Parallel.forEach(n) { b in
            let src = x.data + b * pixels * c, dst = y.data + b * c
            for p in 0..<pixels {
                let row = src + p * c
                for ch in 0..<c { dst[ch] += row[ch] }
            }
            for ch in 0..<c { dst[ch] *= inv }
        }
        return y
    }

    public static func backward(_ dy: Tensor, height: Int, width: Int) -> Tensor {
        precondition(dy.shape.count == 2, "global average pool backward expects [N,C], got \(dy.shape)")
        let (n, c, pixels) = (dy.shape[0], dy.shape[1], height * width)
        let dx = Tensor(uninitialized: [n, height, width, c])
        let inv = 1 / Float(pixels)
        Parallel.forEach(n) { b in
            let src = dy.data + b * c, dst = dx.data + b * pixels * c
            for ch in 0..<c { dst[ch] = src[ch] * inv }
            for p in 1..<max(pixels, 1) { (dst + p * c).update(from: dst, count: c) }
        }
        return dx
    }
}
