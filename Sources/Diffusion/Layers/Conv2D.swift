/// 2-D convolution, NHWC, square kernel k (1 or 3), stride 1 or 2, zero padding.
///
///   x: [N, H, W, Cin]  ->  y: [N, Ho, Wo, Cout],  Ho = (H + 2 pad - k) / stride + 1
///   weight: [k, k, Cin, Cout] (im2col row order: ky, kx, ci), bias: [Cout]
///
/// A k x k conv is im2col + one sgemm, done in chunks of output pixels small enough that the
/// column buffer stays in L2 (DESIGN.md: 150-190 GFLOPS this way, against 46-73 for one
/// whole-batch im2col), chunks spread over `Parallel.threads`.
public struct ConvGeometry: Equatable, Sendable {
    public let n, h, w, cin, cout, k, stride, pad: Int
    public var ho: Int { (h + 2 * pad - k) / stride + 1 }
    public var wo: Int { (w + 2 * pad - k) / stride + 1 }
    /// Rows of the output matrix (one per output pixel) and length of an im2col row.
    public var outRows: Int { n * ho * wo }
    public var colWidth: Int { k * k * cin }
    public var isPointwise: Bool { k == 1 && stride == 1 && pad == 0 }

    public init(n: Int, h: Int, w: Int, cin: Int, cout: Int, k: Int, stride: Int, pad: Int) {
        self.n = n; self.h = h; self.w = w; self.cin = cin; self.cout = cout
        self.k = k; self.stride = stride; self.pad = pad
    }
}

public enum Conv2D {
    /// Output pixels per im2col chunk: aims at a ~1 MB column buffer.
    static func chunkRows(_ g: ConvGeometry) -> Int {
        max(64, min(1024, (1 << 18) / max(g.colWidth, 1)))
    }

    /// Fills col[r, :] for output pixels rows.lowerBound..<rows.upperBound (flattened n, oy, ox).
    static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, rows: Range<Int>,
                       col: UnsafeMutablePointer<Float>) {
        let (ho, wo, cin, k) = (g.ho, g.wo, g.cin, g.k)
        for r in rows {
            let n = r / (ho * wo), rem = r % (ho * wo)
            let oy = rem / wo, ox = rem % wo
            var dst = col + (r - rows.lowerBound) * g.colWidth
            for ky in 0..<k {
                let iy = oy * g.stride - g.pad + ky
                for kx in 0..<k {
                    let ix = ox * g.stride - g.pad + kx
                    if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
                        dst.update(from: x + ((n * g.h + iy) * g.w + ix) * cin, count: cin)
                    } else {
                        dst.update(repeating: 0, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }

    /// Adds col[r, :] back into dx (the adjoint of im2col) for the given rows.
    static func col2imAdd(_ g: ConvGeometry, col: UnsafePointer<Float>, rows: Range<Int>,
                          dx: UnsafeMutablePointer<Float>) {
        let (ho, wo, cin, k) = (g.ho, g.wo, g.cin, g.k)
        for r in rows {
            let n = r / (ho * wo), rem = r % (ho * wo)
            let oy = rem / wo, ox = rem % wo
            var src = col + (r - rows.lowerBound) * g.colWidth
            for ky in 0..<k {
                let iy = oy * g.stride - g.pad + ky
                for kx in 0..<k {
                    let ix = ox * g.stride - g.pad + kx
                    if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
                        let d = dx + ((n * g.h + iy) * g.w + ix) * cin
                        for c in 0..<cin { d[c] += src[c] }
                    }
                    src += cin
                }
            }
        }
    }

    /// y = conv(x, weight) + bias.
    public static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        if g.isPointwise {
            GEMM.rows(m: g.outRows, n: g.cout, k: g.cin, a: x, lda: g.cin, b: weight, ldb: g.cout,
                      c: y, ldc: g.cout)
        } else {
            let chunk = chunkRows(g)
            let chunks = (g.outRows + chunk - 1) / chunk
            Parallel.forEach(chunks) { ci in
                let rows = (ci * chunk)..<min(g.outRows, (ci + 1) * chunk)
                let col = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * g.colWidth)
                defer { col.deallocate() }
                im2col(g, x: x, rows: rows, col: col)
                BLAS.sgemm(m: rows.count, n: g.cout, k: g.colWidth, a: col, lda: g.colWidth,
                           b: weight, ldb: g.cout, c: y + rows.lowerBound * g.cout, ldc: g.cout)
            }
        }
        if let bias {
            Parallel.forRanges(g.outRows, minChunk: 256) { r in
                for row in r {
                    let out = y + row * g.cout
                    for c in 0..<g.cout { out[c] += bias[c] }
                }
            }
        }
    }

    /// Given dy, accumulates dweight and dbias (+=) and writes dx (overwritten) when asked.
    public static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        if let dbias { GEMM.accumulateColumnSums(rows: g.outRows, cols: g.cout, x: dy, into: dbias) }
        if g.isPointwise {
            GEMM.accumulateATB(m: g.outRows, k: g.cin, n: g.cout, a: x, lda: g.cin, b: dy, ldb: g.cout, c: dweight)
            if let dx {
                GEMM.rows(m: g.outRows, n: g.cin, k: g.cout, a: dy, lda: g.cout, b: weight, ldb: g.cout,
                          transB: true, c: dx, ldc: g.cin)
            }
            return
        }
        weightGradient(g, x: x, dy: dy, dweight: dweight)
        guard let dx else { return }
        if g.stride == 1 && g.pad == (g.k - 1) / 2 {
            // dx of a "same" stride-1 conv is a forward conv of dy with the kernel flipped
            // and in/out swapped: no col2im scatter.
            let flipped = flippedTransposed(g, weight: weight)
            defer { flipped.deallocate() }
            let gt = ConvGeometry(n: g.n, h: g.ho, w: g.wo, cin: g.cout, cout: g.cin, k: g.k, stride: 1, pad: g.pad)
            forward(gt, x: dy, weight: flipped, bias: nil, y: dx)
        } else {
            inputGradientScatter(g, weight: weight, dy: dy, dx: dx)
        }
    }

    /// dW += col(x)^T dy, each worker over its own rows into a private buffer.
    static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dweight: UnsafeMutablePointer<Float>) {
        let size = g.colWidth * g.cout
        let chunk = chunkRows(g)
        let workers = max(1, min(Parallel.threads, (g.outRows + chunk - 1) / chunk))
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: workers * size)
        partials.initialize(repeating: 0, count: workers * size)
        defer { partials.deallocate() }
        let per = (g.outRows + workers - 1) / workers
        Parallel.forEach(workers) { wk in
            let lo = wk * per, hi = min(g.outRows, lo + per)
            let col = UnsafeMutablePointer<Float>.allocate(capacity: chunk * g.colWidth)
            defer { col.deallocate() }
            var start = lo
            while start < hi {
                let rows = start..<min(hi, start + chunk)
                im2col(g, x: x, rows: rows, col: col)
                BLAS.sgemm(transA: true, m: g.colWidth, n: g.cout, k: rows.count, a: col, lda: g.colWidth,
                           b: dy + rows.lowerBound * g.cout, ldb: g.cout, beta: 1,
                           c: partials + wk * size, ldc: g.cout)
                start = rows.upperBound
            }
        }
        for wk in 0..<workers {
            let p = partials + wk * size
            for i in 0..<size { dweight[i] += p[i] }
        }
    }

    /// weight [k,k,Cin,Cout] -> [k,k,Cout,Cin] with the kernel rotated by 180 degrees.
    static func flippedTransposed(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let out = UnsafeMutablePointer<Float>.allocate(capacity: g.colWidth * g.cout)
        let k = g.k
        for ky in 0..<k { for kx in 0..<k {
            let src = weight + ((k - 1 - ky) * k + (k - 1 - kx)) * g.cin * g.cout
            let dst = out + (ky * k + kx) * g.cout * g.cin
            for ci in 0..<g.cin { for co in 0..<g.cout { dst[co * g.cin + ci] = src[ci * g.cout + co] } }
        } }
        return out
    }

    /// dx via dcol = dy W^T and col2im, one image per task so scatters never collide.
    static func inputGradientScatter(_ g: ConvGeometry, weight: UnsafePointer<Float>,
                                     dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: g.n * g.h * g.w * g.cin)
        let perImage = g.ho * g.wo
        let chunk = chunkRows(g)
        Parallel.forEach(g.n) { n in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: chunk * g.colWidth)
            defer { col.deallocate() }
            var start = n * perImage
            let end = start + perImage
            while start < end {
                let rows = start..<min(end, start + chunk)
                BLAS.sgemm(transB: true, m: rows.count, n: g.colWidth, k: g.cout,
                           a: dy + rows.lowerBound * g.cout, lda: g.cout, b: weight, ldb: g.cout,
                           c: col, ldc: g.colWidth)
                col2imAdd(g, col: col, rows: rows, dx: dx)
                start = rows.upperBound
            }
        }
    }
}
