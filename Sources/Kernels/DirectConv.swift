/// 3x3, stride-1, "same" convolution computed straight from a zero-padded copy of each
/// image, without im2col: an implicit GEMM whose A operand is read in place.
///
/// Why: with im2col + sgemm, a 3x3 conv writes 9x its input into the column buffer, and
/// OpenBLAS copies that buffer again into its packed layout; for 16-32 output channels those
/// two copies (im2col 9%, packing 8% of a forward pass) cost as much as half the multiply.
/// Here the only copy is the padded image (1x), and the weights are packed once per call.
///
/// Register tile: 4 output pixels of a row x 16 output channels = 8 accumulators (two
/// 8-lane halves per pixel). Inner step: two weight vectors, four broadcast inputs, eight
/// FMAs; 8 independent chains cover the FMA latency (4 cycles x 2 pipes). Along K the taps
/// of one kernel row are neighbouring pixels, so K runs as 3 contiguous stretches of 3*Cin.
///
/// The weight gradient uses the transposed tile: 4 input channels x 16 output channels,
/// summed over the pixels of an image.
package enum DirectConv {
    /// Forward (and dx through the flipped kernel) needs Wo % 4 == 0 and Cout % 16 == 0.
    package static func supportsForward(_ g: ConvGeometry) -> Bool {
        g.k == 3 && g.stride == 1 && g.pad == 1 && g.wo % 4 == 0 && g.cout % 16 == 0
    }

    /// The weight gradient needs Cin % 4 == 0 and Cout % 16 == 0. It reads 4 channels of each
    /// input pixel per pass, a quarter of a cache line, so it only beats im2col + sgemm where
    /// that path is weakest (measured, single thread, blocked by rows: 16-32 output channels at
    /// 16x16 and 32x32 92-102 against 60-80 GFLOPS; from 64 channels or below 16x16 it lost,
    /// 40-80 against 85-97).
    package static func prefersWeightGradient(_ g: ConvGeometry) -> Bool {
        g.k == 3 && g.stride == 1 && g.pad == 1 && g.cin % 4 == 0 && g.cout % 16 == 0
            && ((g.cout <= 32 && g.ho * g.wo >= 256) || usesPackedWeightGradient(g))
    }

    /// 8x8 and 16x16 images (with more than 32 output channels at 16x16): the packed form.
    /// Measured single-thread against im2col + sgemm: 8x8 64-192 channels 97-103 vs 88-92,
    /// 16x16 64-96 channels 96 vs 87-88 GFLOPS; at 4x4 with 256-512 input channels it swung
    /// between 68 and 100 from run to run (sgemm: 83-95), so 4x4 stays on sgemm.
    package static func usesPackedWeightGradient(_ g: ConvGeometry) -> Bool {
        let pixels = g.ho * g.wo
        return pixels >= 64 && pixels <= 256 && !(g.cout <= 32 && pixels >= 256)
    }

    /// weight [3, 3, Cin, Cout] -> panels [Cout/16][9 Cin][16].
    package static func packWeights(_ g: ConvGeometry, _ weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let K = 9 * g.cin, panels = g.cout / 16
        let out = UnsafeMutablePointer<Float>.allocate(capacity: panels * K * 16)
        // Up to 4.7 MB per layer (seed): split over the workers like everything else.
        Parallel.forRanges(K, minChunk: 256) { r in
            for p in 0..<panels {
                for kk in r {
                    Vectorized.copy(weight + kk * g.cout + p * 16, to: out + (p * K + kk) * 16, count: 16)
                }
            }
        }
        return out
    }

    /// The panels of the dx convolution of `g` (see `Conv2D.backward`): the kernel rotated by
    /// 180 degrees with in and out swapped, i.e. for the geometry with Cin' = Cout, Cout' = Cin:
    /// panel p, row (t, co), lane l = weight[8 - t, 16 p + l, co]. Needs Cin % 16 == 0.
    package static func packFlipped(_ g: ConvGeometry, _ weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let (cin, cout) = (g.cin, g.cout)
        let panels = cin / 16, K = 9 * cout
        let out = UnsafeMutablePointer<Float>.allocate(capacity: panels * K * 16)
        Parallel.forEach(panels * 9) { task in
            let p = task / 9, t = task % 9
            let dst = out + (p * K + t * cout) * 16
            for l in 0..<16 {
                let src = weight + ((8 - t) * cin + p * 16 + l) * cout
                for co in 0..<cout { dst[co * 16 + l] = src[co] }
            }
        }
        return out
    }

    /// Zero-padded copy of image n: [(H + 2) x (W + 2) x Cin].
    package static func pad(_ g: ConvGeometry, _ x: UnsafePointer<Float>, image n: Int, into xp: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (g.h, g.w, g.cin)
        let rowLen = (w + 2) * c
        Vectorized.zero(xp, count: rowLen)
        Vectorized.zero(xp + (h + 1) * rowLen, count: rowLen)
        for y in 0..<h {
            let dst = xp + (y + 1) * rowLen
            Vectorized.zero(dst, count: c)
            Vectorized.copy(x + ((n * h + y) * w) * c, to: dst + c, count: w * c)
            Vectorized.zero(dst + (w + 1) * c, count: c)
        }
    }

    package static func paddedCount(_ g: ConvGeometry) -> Int { (g.h + 2) * (g.w + 2) * g.cin }

    /// y = conv(x) + bias + imageBias[n] + residual (each optional). The bias terms start
    /// the accumulators and the residual is added at the store, so y is written once.
    /// `packed`: the weights as `packWeights` (or, for dx, `packFlipped`) lays them out.
    package static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, imageBias: UnsafePointer<Float>?,
                        residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let workers = Parallel.workerCount(g.n)
        let padSize = paddedCount(g)
        let (h, w, cin, cout) = (g.h, g.w, g.cin, g.cout)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * (padSize + cout))
        defer { scratch.deallocate() }
        let K = 9 * cin, rowStride = (w + 2) * cin
        Parallel.forEachWithWorker(g.n) { n, wk in
            let xp = scratch + wk * (padSize + cout), start = xp + padSize
            pad(g, x, image: n, into: xp)
            // The accumulators' start for every pixel of image n.
            switch (bias, imageBias) {
            case let (b?, e?): Vectorized.sum(b, e + n * cout, into: start, count: cout)
            case let (b?, nil): Vectorized.copy(b, to: start, count: cout)
            case let (nil, e?): Vectorized.copy(e + n * cout, to: start, count: cout)
            case (nil, nil): Vectorized.zero(start, count: cout)
            }
            let first = n * h * w
            for p in 0..<(cout / 16) {
                let wp = packed + p * K * 16
                for oy in 0..<h {
                    var ox = 0
                    while ox < w {
                        let o = (first + oy * w + ox) * cout + p * 16
                        tile4x16(xp + oy * rowStride + ox * cin, rowStride: rowStride, cin: cin, weights: wp,
                                 start: start + p * 16, residual: residual.map { $0 + o }, out: y + o, ldo: cout)
                        ox += 4
                    }
                }
            }
        }
    }

    /// out[r, 0..<16] = start + sum over ky, j < 3 Cin of src[ky * rowStride + r * Cin + j] * w[ky * 3 Cin + j, :]
    /// (+ residual[r, 0..<16]) for the 4 pixels r of one output row (rows ldo apart).
    @inline(never)
    package static func tile4x16(_ src: UnsafePointer<Float>, rowStride: Int, cin: Int, weights: UnsafePointer<Float>,
                         start: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                         out: UnsafeMutablePointer<Float>, ldo: Int) {
        var a0 = load8(start), b0 = load8(start + 8)
        var a1 = a0, b1 = b0, a2 = a0, b2 = b0, a3 = a0, b3 = b0
        let run = 3 * cin
        for ky in 0..<3 {
            let s0 = src + ky * rowStride, s1 = s0 + cin, s2 = s1 + cin, s3 = s2 + cin
            var wv = weights + ky * run * 16
            for j in 0..<run {
                let lo = load8(wv), hi = load8(wv + 8)
                let x0 = Float8(repeating: s0[j]), x1 = Float8(repeating: s1[j])
                a0 = a0.addingProduct(x0, lo); b0 = b0.addingProduct(x0, hi)
                a1 = a1.addingProduct(x1, lo); b1 = b1.addingProduct(x1, hi)
                let x2 = Float8(repeating: s2[j]), x3 = Float8(repeating: s3[j])
                a2 = a2.addingProduct(x2, lo); b2 = b2.addingProduct(x2, hi)
                a3 = a3.addingProduct(x3, lo); b3 = b3.addingProduct(x3, hi)
                wv += 16
            }
        }
        if let r = residual {
            a0 += load8(r); b0 += load8(r + 8)
            a1 += load8(r + ldo); b1 += load8(r + ldo + 8)
            a2 += load8(r + 2 * ldo); b2 += load8(r + 2 * ldo + 8)
            a3 += load8(r + 3 * ldo); b3 += load8(r + 3 * ldo + 8)
        }
        store8(a0, out); store8(b0, out + 8)
        store8(a1, out + ldo); store8(b1, out + ldo + 8)
        store8(a2, out + 2 * ldo); store8(b2, out + 2 * ldo + 8)
        store8(a3, out + 3 * ldo); store8(b3, out + 3 * ldo + 8)
    }

    /// dweight [3, 3, Cin, Cout] += sum over pixels of xpad(tap) dy^T, one image per task,
    /// per-worker partials (with a row for dbias += column sums of dy, when asked).
    package static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        if usesPackedWeightGradient(g) {
            weightGradientPacked(g, x: x, dy: dy, dweight: dweight, dbias: dbias)
            return
        }
        let workers = Parallel.workerCount(g.n)
        let size = 9 * g.cin * g.cout
        let partials = WorkerPartials(workers: workers, size: size + g.cout)
        let padSize = paddedCount(g)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * padSize)
        defer { scratch.deallocate() }
        let (h, w, cin, cout) = (g.h, g.w, g.cin, g.cout)
        let rowStride = (w + 2) * cin
        Parallel.forEachWithWorker(g.n) { n, wk in
            let xp = scratch + wk * padSize
            pad(g, x, image: n, into: xp)
            let part = partials[wk]
            if partials.beta(wk) == 0 { Vectorized.zero(part, count: size + cout) }
            let dyn = dy + n * h * w * cout
            GEMM.addColumnSums(rows: h * w, cols: cout, x: dyn, into: part + size)
            // Blocks of output rows whose inputs (R + 2 padded rows) and dy rows fit in ~24 KB,
            // so the 9 Cin/4 x Cout/16 passes over a block hit L1 instead of streaming from L2.
            let perRow = (w + 2) * cin + w * cout
            let R = max(1, min(h, (6144 - 2 * (w + 2) * cin) / perRow))
            var y0 = 0
            while y0 < h {
                let rows = min(R, h - y0)
                for t in 0..<9 {
                    let (ky, kx) = (t / 3, t % 3)
                    for ci in stride(from: 0, to: cin, by: 4) {
                        for p in 0..<(cout / 16) {
                            weightTile4x16(xp + (y0 + ky) * rowStride + kx * cin + ci, rowStride: rowStride, cin: cin,
                                           h: rows, w: w, dy: dyn + y0 * w * cout + p * 16, ldy: cout,
                                           out: part + (t * cin + ci) * cout + p * 16, ldo: cout)
                        }
                    }
                }
                y0 += rows
            }
        }
        partials.addAll(range: 0..<size, into: dweight)
        if let dbias { partials.addAll(range: size..<(size + cout), into: dbias) }
    }

    /// The weight gradient for images of <= 256 pixels (16x16 and below), where the row-blocked
    /// form runs out of rows to block: several images per task (>= 256 pixels), each task
    /// packing (1) its padded images by groups of 4 channels, [Cin/4][image][(H+2)(W+2)][4],
    /// so a tile's four input channels are 16 contiguous bytes per pixel and a tap is just an
    /// offset, and (2) dy by 16-channel panels, [Cout/16][pixels][16]: read in place, a panel's
    /// rows are Cout floats apart (1 KB at 256 channels), which maps every row into the same
    /// few L1 sets and thrashes. Each (channel group, dy panel, tap) then sweeps the task's
    /// pixels once.
    package static func weightGradientPacked(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                     dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        let (h, w, cin, cout) = (g.h, g.w, g.cin, g.cout)
        let plane = (h + 2) * (w + 2)
        let perTask = max(1, 256 / (h * w))
        let tasks = (g.n + perTask - 1) / perTask
        let workers = Parallel.workerCount(tasks)
        let size = 9 * cin * cout
        let partials = WorkerPartials(workers: workers, size: size + cout)
        let packSize = cin * perTask * plane + perTask * h * w * cout
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * packSize)
        defer { scratch.deallocate() }
        Parallel.forEachWithWorker(tasks) { task, wk in
            let n0 = task * perTask, images = min(perTask, g.n - n0)
            let xq = scratch + wk * packSize, dq = xq + cin * perTask * plane
            let groupStride = images * plane * 4
            Vectorized.zero(xq, count: cin / 4 * groupStride)
            for i in 0..<images {
                for y in 0..<h {
                    for xx in 0..<w {
                        let src = x + (((n0 + i) * h + y) * w + xx) * cin
                        let dst = xq + (i * plane + (y + 1) * (w + 2) + xx + 1) * 4
                        for cb in 0..<(cin / 4) {
                            UnsafeMutableRawPointer(dst + cb * groupStride)
                                .storeBytes(of: UnsafeRawPointer(src + cb * 4).loadUnaligned(as: SIMD4<Float>.self),
                                            as: SIMD4<Float>.self)
                        }
                    }
                }
            }
            let part = partials[wk]
            if partials.beta(wk) == 0 { Vectorized.zero(part, count: size + cout) }
            let pixels = images * h * w
            let dyn = dy + n0 * h * w * cout
            GEMM.addColumnSums(rows: pixels, cols: cout, x: dyn, into: part + size)
            for p in 0..<(cout / 16) {
                for r in 0..<pixels { Vectorized.copy(dyn + r * cout + p * 16, to: dq + (p * pixels + r) * 16, count: 16) }
            }
            // Channel groups outermost: a group's input panel stays in L1 across all dy panels
            // and taps, and the dW rows it feeds (9 x 4 x Cout) stay close too.
            for cb in 0..<(cin / 4) {
                for p in 0..<(cout / 16) {
                    for t in 0..<9 {
                        let (ky, kx) = (t / 3, t % 3)
                        weightTilePacked(xq + cb * groupStride + (ky * (w + 2) + kx) * 4, plane: plane,
                                         images: images, h: h, w: w, dy: dq + p * pixels * 16,
                                         out: part + (t * cin + cb * 4) * cout + p * 16, ldo: cout)
                    }
                }
            }
        }
        partials.addAll(range: 0..<size, into: dweight)
        if let dbias { partials.addAll(range: size..<(size + cout), into: dbias) }
    }

    /// out[c, 0..<16] += sum over images, rows, columns of src[(i plane + oy (W+2) + ox) 4 + c]
    /// * dy[pixel, 0..<16] (dy packed 16 floats per pixel), c < 4.
    @inline(never)
    package static func weightTilePacked(_ src: UnsafePointer<Float>, plane: Int, images: Int, h: Int, w: Int,
                                 dy: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, ldo: Int) {
        var a0 = Float8(), b0 = Float8(), a1 = Float8(), b1 = Float8()
        var a2 = Float8(), b2 = Float8(), a3 = Float8(), b3 = Float8()
        var d = dy
        for i in 0..<images {
            for oy in 0..<h {
                var s = src + (i * plane + oy * (w + 2)) * 4
                for _ in 0..<w {
                    let lo = load8(d), hi = load8(d + 8)
                    let x0 = Float8(repeating: s[0]), x1 = Float8(repeating: s[1])
                    a0 = a0.addingProduct(x0, lo); b0 = b0.addingProduct(x0, hi)
                    a1 = a1.addingProduct(x1, lo); b1 = b1.addingProduct(x1, hi)
                    let x2 = Float8(repeating: s[2]), x3 = Float8(repeating: s[3])
                    a2 = a2.addingProduct(x2, lo); b2 = b2.addingProduct(x2, hi)
                    a3 = a3.addingProduct(x3, lo); b3 = b3.addingProduct(x3, hi)
                    s += 4
                    d += 16
                }
            }
        }
        store8(load8(out) + a0, out); store8(load8(out + 8) + b0, out + 8)
        store8(load8(out + ldo) + a1, out + ldo); store8(load8(out + ldo + 8) + b1, out + ldo + 8)
        store8(load8(out + 2 * ldo) + a2, out + 2 * ldo); store8(load8(out + 2 * ldo + 8) + b2, out + 2 * ldo + 8)
        store8(load8(out + 3 * ldo) + a3, out + 3 * ldo); store8(load8(out + 3 * ldo + 8) + b3, out + 3 * ldo + 8)
    }

    /// out[c, 0..<16] += sum over pixels (oy, ox) of src[oy * rowStride + ox * Cin + c] * dy[pixel, 0..<16]
    /// for the 4 input channels c.
    @inline(never)
    package static func weightTile4x16(_ src: UnsafePointer<Float>, rowStride: Int, cin: Int, h: Int, w: Int,
                               dy: UnsafePointer<Float>, ldy: Int, out: UnsafeMutablePointer<Float>, ldo: Int) {
        var a0 = Float8(), b0 = Float8(), a1 = Float8(), b1 = Float8()
        var a2 = Float8(), b2 = Float8(), a3 = Float8(), b3 = Float8()
        var d = dy
        for oy in 0..<h {
            var s = src + oy * rowStride
            for _ in 0..<w {
                let lo = load8(d), hi = load8(d + 8)
                let x0 = Float8(repeating: s[0]), x1 = Float8(repeating: s[1])
                a0 = a0.addingProduct(x0, lo); b0 = b0.addingProduct(x0, hi)
                a1 = a1.addingProduct(x1, lo); b1 = b1.addingProduct(x1, hi)
                let x2 = Float8(repeating: s[2]), x3 = Float8(repeating: s[3])
                a2 = a2.addingProduct(x2, lo); b2 = b2.addingProduct(x2, hi)
                a3 = a3.addingProduct(x3, lo); b3 = b3.addingProduct(x3, hi)
                s += cin
                d += ldy
            }
        }
        store8(load8(out) + a0, out); store8(load8(out + 8) + b0, out + 8)
        store8(load8(out + ldo) + a1, out + ldo); store8(load8(out + ldo + 8) + b1, out + ldo + 8)
        store8(load8(out + 2 * ldo) + a2, out + 2 * ldo); store8(load8(out + 2 * ldo + 8) + b2, out + 2 * ldo + 8)
        store8(load8(out + 3 * ldo) + a3, out + 3 * ldo); store8(load8(out + 3 * ldo + 8) + b3, out + 3 * ldo + 8)
    }
}
