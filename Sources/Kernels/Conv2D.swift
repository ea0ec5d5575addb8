/// 2-D convolution, NHWC, square kernel k (1 or 3), stride 1 or 2, zero padding.
///
///   x: [N, H, W, Cin]  ->  y: [N, Ho, Wo, Cout],  Ho = (H + 2 pad - k) / stride + 1
///   weight: [k, k, Cin, Cout] (im2col row order: ky, kx, ci), bias: [Cout]
///
/// 3x3 stride-1 convolutions with Cout % 16 == 0 and Wo % 4 == 0 (all of the U-Net's but
/// conv_out) run through `DirectConv` (implicit GEMM from a padded image, 95-105 GFLOPS on one
/// core at every U-Net shape against 60-95 for im2col + sgemm); so does their dx (the same
/// kernel with the flipped weights), and the weight gradient where it wins (Cout <= 32).
/// Otherwise a k x k conv is im2col + one sgemm, done in chunks of output pixels small enough
/// that the column buffer stays in L2 (docs/kernels.md: 150-190 GFLOPS this way, against 46-73 for
/// one whole-batch im2col), chunks handed out dynamically over `Parallel.threads`, each worker
/// with one column buffer for the whole call. Output rows are first set to bias (+ per-image
/// time embedding, + residual) and the product added with beta = 1, so no separate bias,
/// embedding or residual pass touches the output again.
public struct ConvGeometry: Equatable, Sendable {
    public let n, h, w, cin, cout, k, stride, pad: Int
    public var ho: Int { (h + 2 * pad - k) / stride + 1 }
    public var wo: Int { (w + 2 * pad - k) / stride + 1 }
    /// Rows of the output matrix (one per output pixel) and length of an im2col row.
    public var outRows: Int { n * ho * wo }
    /// Elements of the input x [n, h, w, cin].
    public var inputCount: Int { n * h * w * cin }
    public var colWidth: Int { k * k * cin }
    public var isPointwise: Bool { k == 1 && stride == 1 && pad == 0 }

    public init(n: Int, h: Int, w: Int, cin: Int, cout: Int, k: Int, stride: Int, pad: Int) {
        self.n = n; self.h = h; self.w = w; self.cin = cin; self.cout = cout
        self.k = k; self.stride = stride; self.pad = pad
    }

    /// The same convolution on `n` images (a slice or piece of the batch).
    public func withBatch(_ n: Int) -> ConvGeometry {
        ConvGeometry(n: n, h: h, w: w, cin: cin, cout: cout, k: k, stride: stride, pad: pad)
    }
}

public enum Conv2D {
    /// Output pixels per im2col chunk: aims at a ~512 KB column buffer.
    /// (Measured 256 KB to 4 MB buffers at every U-Net shape: differences within the noise,
    /// 512 KB a little ahead.)
    package static func chunkRows(_ g: ConvGeometry) -> Int {
        max(64, min(1024, (1 << 17) / max(g.colWidth, 1)))
    }

    /// Fills col[r, :] for output pixels rows.lowerBound..<rows.upperBound (flattened n, oy, ox).
    package static func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, rows: Range<Int>,
                       col: UnsafeMutablePointer<Float>) {
        let (ho, wo, cin, k) = (g.ho, g.wo, g.cin, g.k)
        let run = k * cin
        var n = rows.lowerBound / (ho * wo), oy = (rows.lowerBound / wo) % ho, ox = rows.lowerBound % wo
        var dst = col
        for _ in rows {
            let ix0 = ox * g.stride - g.pad
            let interior = ix0 >= 0 && ix0 + k <= g.w
            for ky in 0..<k {
                let iy = oy * g.stride - g.pad + ky
                if iy < 0 || iy >= g.h {
                    Vectorized.zero(dst, count: run)
                } else {
                    let src = x + ((n * g.h + iy) * g.w) * cin
                    if interior {
                        // The k taps of a kernel row are neighbouring pixels: one run of k*cin.
                        Vectorized.copy(src + ix0 * cin, to: dst, count: run)
                    } else {
                        for kx in 0..<k {
                            let ix = ix0 + kx
                            if ix >= 0 && ix < g.w {
                                Vectorized.copy(src + ix * cin, to: dst + kx * cin, count: cin)
                            } else {
                                Vectorized.zero(dst + kx * cin, count: cin)
                            }
                        }
                    }
                }
                dst += run
            }
            ox += 1
            if ox == wo { ox = 0; oy += 1; if oy == ho { oy = 0; n += 1 } }
        }
    }

    /// Adds col[r, :] back into dx (the adjoint of im2col) for the given rows.
    package static func col2imAdd(_ g: ConvGeometry, col: UnsafePointer<Float>, rows: Range<Int>,
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
                        Vectorized.add(src, into: dx + ((n * g.h + iy) * g.w + ix) * cin, count: cin)
                    }
                    src += cin
                }
            }
        }
    }

    /// y = conv(x, weight) + bias.
    public static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        forward(g, x: x, weight: weight, bias: bias, imageBias: nil, residual: nil, y: y)
    }

    /// y = conv(x, weight) + bias + imageBias[n] + residual, any of the three optional:
    /// imageBias [N, Cout] is added to every pixel of image n (the resnet's time embedding),
    /// residual [N, Ho, Wo, Cout] elementwise.
    package static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, imageBias: UnsafePointer<Float>?,
                        residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let hasInit = bias != nil || imageBias != nil || residual != nil
        let pixels = g.ho * g.wo, cout = g.cout
        func prologue(_ rows: Range<Int>) {
            guard hasInit else { return }
            Vectorized.initRows(y, n: cout, rows: rows, bias: bias,
                                rowBias: { r in imageBias.map { $0 + (r / pixels) * cout } }, residual: residual)
        }
        if g.isPointwise {
            GEMM.rows(m: g.outRows, n: cout, k: g.cin, a: x, lda: g.cin, b: weight, ldb: cout, transB: false,
                      c: y, ldc: cout, beta: hasInit ? 1 : 0, prologue: prologue)
            return
        }
        if DirectConv.supportsForward(g) {
            let packed = DirectConv.packWeights(g, weight)
            defer { packed.deallocate() }
            DirectConv.forward(g, x: x, packed: packed, bias: bias, imageBias: imageBias, residual: residual, y: y)
            return
        }
        let chunk = chunkRows(g)
        let chunks = (g.outRows + chunk - 1) / chunk
        let workers = Parallel.workerCount(chunks)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * chunk * g.colWidth)
        defer { scratch.deallocate() }
        Parallel.forEachWithWorker(chunks) { ci, w in
            let rows = (ci * chunk)..<min(g.outRows, (ci + 1) * chunk)
            let col = scratch + w * chunk * g.colWidth
            im2col(g, x: x, rows: rows, col: col)
            prologue(rows)
            BLAS.sgemm(m: rows.count, n: cout, k: g.colWidth, a: col, lda: g.colWidth,
                       b: weight, ldb: cout, beta: hasInit ? 1 : 0, c: y + rows.lowerBound * cout, ldc: cout)
        }
    }

    /// Given dy, accumulates dweight and dbias (+=) and writes dx (overwritten) when asked.
    public static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        if g.isPointwise {
            if let dbias { GEMM.accumulateColumnSums(rows: g.outRows, cols: g.cout, x: dy, into: dbias) }
            GEMM.accumulateATB(m: g.outRows, k: g.cin, n: g.cout, a: x, lda: g.cin, b: dy, ldb: g.cout, c: dweight)
            if let dx {
                GEMM.rows(m: g.outRows, n: g.cin, k: g.cout, a: dy, lda: g.cout, b: weight, ldb: g.cout,
                          transB: true, c: dx, ldc: g.cin)
            }
            return
        }
        weightGradient(g, x: x, dy: dy, dweight: dweight, dbias: dbias)
        guard let dx else { return }
        if g.stride == 1 && g.pad == (g.k - 1) / 2 {
            // dx of a "same" stride-1 conv is a forward conv of dy with the kernel flipped
            // and in/out swapped: no col2im scatter.
            let gt = ConvGeometry(n: g.n, h: g.ho, w: g.wo, cin: g.cout, cout: g.cin, k: g.k, stride: 1, pad: g.pad)
            if DirectConv.supportsForward(gt) {
                let packed = DirectConv.packFlipped(g, weight)
                defer { packed.deallocate() }
                DirectConv.forward(gt, x: dy, packed: packed, bias: nil, imageBias: nil, residual: nil, y: dx)
            } else {
                let flipped = flippedTransposed(g, weight: weight)
                defer { flipped.deallocate() }
                forward(gt, x: dy, weight: flipped, bias: nil, y: dx)
            }
        } else {
            inputGradientScatter(g, weight: weight, dy: dy, dx: dx)
        }
    }

    /// dW += col(x)^T dy: chunks handed out dynamically, each worker accumulating into its
    /// own partial (beta 1 after its first chunk), partials added at the end.
    /// dbias (when given) comes from the same tasks: each adds its rows' column sums of dy
    /// (still in cache) to a bias row after its dW partial.
    package static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        if DirectConv.prefersWeightGradient(g) {
            DirectConv.weightGradient(g, x: x, dy: dy, dweight: dweight, dbias: dbias)
            return
        }
        let chunk = chunkRows(g)
        let chunks = (g.outRows + chunk - 1) / chunk
        let workers = Parallel.workerCount(chunks)
        let size = g.colWidth * g.cout
        let partials = WorkerPartials(workers: workers, size: size + g.cout)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * chunk * g.colWidth)
        defer { scratch.deallocate() }
        Parallel.forEachWithWorker(chunks) { ci, w in
            let rows = (ci * chunk)..<min(g.outRows, (ci + 1) * chunk)
            let col = scratch + w * chunk * g.colWidth
            im2col(g, x: x, rows: rows, col: col)
            let beta = partials.beta(w)
            if beta == 0 { Vectorized.zero(partials[w] + size, count: g.cout) }
            BLAS.sgemm(transA: true, m: g.colWidth, n: g.cout, k: rows.count, a: col, lda: g.colWidth,
                       b: dy + rows.lowerBound * g.cout, ldb: g.cout, beta: beta,
                       c: partials[w], ldc: g.cout)
            GEMM.addColumnSums(rows: rows.count, cols: g.cout, x: dy + rows.lowerBound * g.cout, into: partials[w] + size)
        }
        partials.addAll(range: 0..<size, into: dweight)
        if let dbias { partials.addAll(range: size..<(size + g.cout), into: dbias) }
    }

    /// weight [k,k,Cin,Cout] -> [k,k,Cout,Cin] with the kernel rotated by 180 degrees.
    package static func flippedTransposed(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
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
    package static func inputGradientScatter(_ g: ConvGeometry, weight: UnsafePointer<Float>,
                                     dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let perImage = g.ho * g.wo
        let chunk = chunkRows(g)
        let workers = Parallel.workerCount(g.n)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * chunk * g.colWidth)
        defer { scratch.deallocate() }
        Parallel.forEachWithWorker(g.n) { n, w in
            let col = scratch + w * chunk * g.colWidth
            Vectorized.zero(dx + n * g.h * g.w * g.cin, count: g.h * g.w * g.cin)
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
