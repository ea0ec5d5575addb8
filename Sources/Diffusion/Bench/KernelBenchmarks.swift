import Foundation

/// Per-kernel speed at the U-Net's shapes, for tuning (`launcher bench kernels`). Each
/// benchmark hands its result lines to `log` as it goes.
///
/// With one thread, times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other
/// jobs on a shared machine do not inflate them; with more, wall time. Every figure is the
/// best of `repeats` timings after one warm-up.
public struct KernelBenchmarks {
    public let threads: Int, repeats: Int
    let log: (String) -> Void

    public init(threads: Int, repeats: Int, log: @escaping (String) -> Void) {
        self.threads = threads; self.repeats = repeats; self.log = log
    }

    /// The benchmarks, in the order `run([])` runs them; the raw values are their names on the
    /// command line (`bench kernels --only`).
    public enum Name: String, CaseIterable, Sendable {
        case convolutions, attention
        case expRow = "exp-row"
        case attentionPieces = "attention-pieces"
        case parallelOverhead = "parallel-overhead"
        case linears
        case groupNorm = "group-norm"
    }

    /// Runs the named benchmarks (all of them for []) on `threads` kernel threads.
    public func run(_ selected: [Name] = []) {
        BLAS.keepSingleThreaded()
        Parallel.withThreads(threads) {
            for name in selected.isEmpty ? Name.allCases : selected { run(name) }
        }
    }

    func run(_ name: Name) {
        switch name {
        case .convolutions: convolutions()
        case .attention: attention()
        case .expRow: expRow()
        case .attentionPieces: attentionPieces()
        case .parallelOverhead: parallelOverhead()
        case .linears: linears()
        case .groupNorm: groupNorm()
        }
    }

    func clock() -> Double {
        var ts = timespec()
        clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best of `repeats` (default: self.repeats) timings of `body` after one warm-up, seconds.
    func time(repeats: Int? = nil, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<(repeats ?? self.repeats) {
            let t0 = clock()
            body()
            best = min(best, clock() - t0)
        }
        return best
    }

    func random(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        var rng = RandomStream(seed: seed)
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        for i in 0..<count { p[i] = Float(rng.uniform() * 2 - 1) }
        return p
    }

    /// (n, h, cin, cout, k, stride): the small preset's convolutions (seed: channels x2).
    static let convShapes: [(Int, Int, Int, Int, Int, Int)] = [
        (32, 32, 16, 16, 3, 1), (32, 32, 48, 16, 3, 1), (32, 32, 32, 16, 3, 1), (32, 32, 16, 16, 3, 2),
        (32, 16, 32, 32, 3, 1), (32, 16, 96, 32, 3, 1), (32, 16, 16, 32, 1, 1),
        (32, 8, 64, 64, 3, 1), (32, 8, 192, 64, 3, 1),
        (32, 4, 128, 128, 3, 1), (32, 4, 256, 128, 3, 1),
        (32, 32, 32, 32, 3, 1), (32, 32, 96, 32, 3, 1), (32, 16, 64, 64, 3, 1), (32, 8, 128, 128, 3, 1),
        (32, 4, 512, 256, 3, 1), (32, 32, 1, 32, 3, 1), (32, 32, 32, 1, 3, 1), (32, 32, 32, 32, 3, 2),
    ]

    public func convolutions() {
        log("conv n h cin->cout k s: GFLOPS forward, weight gradient, input gradient; threads \(threads)")
        for (n, h, cin, cout, k, s) in Self.convShapes {
            let g = ConvGeometry(n: n, h: h, w: h, cin: cin, cout: cout, k: k, stride: s, pad: (k - 1) / 2)
            let x = random(n * h * h * cin, seed: 1), w = random(k * k * cin * cout, seed: 2)
            let b = random(cout, seed: 3), y = random(g.outRows * cout, seed: 4)
            let dx = UnsafeMutablePointer<Float>.allocate(capacity: n * h * h * cin)
            let dw = UnsafeMutablePointer<Float>.allocate(capacity: k * k * cin * cout)
            defer { for p in [x, w, b, y, dx, dw] { p.deallocate() } }
            let flop = 2.0 * Double(g.outRows * g.colWidth * cout)
            let tf = time { Conv2D.forward(g, x: x, weight: w, bias: b, y: y) }
            let tw = time { Conv2D.backward(g, x: x, weight: w, dy: y, dx: nil, dweight: dw, dbias: nil) }
            let tb = time { Conv2D.backward(g, x: x, weight: w, dy: y, dx: dx, dweight: dw, dbias: nil) }
            let td = max(tb - tw, 1e-9)
            log(String(format: "conv %3d %2d %3d->%3d k%d s%d: fwd %6.1f  dW %6.1f  dx %6.1f   (%.2f / %.2f / %.2f ms)",
                       n, h, cin, cout, k, s, flop / tf * 1e-9, flop / tw * 1e-9, flop / td * 1e-9,
                       tf * 1e3, tw * 1e3, td * 1e3))
        }
    }

    public func attention() {
        for (n, L, heads) in [(32, 256, 4), (32, 64, 8), (32, 16, 16), (32, 256, 8), (32, 64, 16), (32, 16, 32)] {
            let C = heads * 8
            let q = random(n * L * C, seed: 1), k = random(n * L * C, seed: 2), v = random(n * L * C, seed: 3)
            let o = random(n * L * C, seed: 4), lse = random(n * heads * L, seed: 5)
            let dq = random(n * L * C, seed: 6), dk = random(n * L * C, seed: 7), dv = random(n * L * C, seed: 8)
            defer { for p in [q, k, v, o, lse, dq, dk, dv] { p.deallocate() } }
            let perRow = Double(n * heads * L * L)
            // Each path in fp32, then the bf16 kernels where the CPU has AVX512-BF16.
            let paths = KernelPath.runnable.map { ($0, ConvolutionPrecision.fp32) }
                + (KernelPath.avx512Available && KernelPath.avx512BF16Available ? [(.avx512, .bf16)] : [])
            for (kernel, precision) in paths {
                let tf = time {
                    ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: 8, q: q, k: k, v: v, ld: C,
                                                      o: o, ldo: C, lse: lse, kernel: kernel, precision: precision)
                }
                let tb = time {
                    ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: 8, q: q, k: k, v: v, ld: C,
                                                       o: o, dout: q, ldo: C, lse: lse, dq: dq, dk: dk, dv: dv, ldd: C,
                                                       kernel: kernel, precision: precision)
                }
                let label = precision == .bf16 ? "\(kernel)-bf16" : "\(kernel)"
                log(String(format: "attention %-11@ n %d L %3d heads %2d: fwd %.2f ms (%.2f ns/score), bwd %.2f ms (%.2f ns/score)",
                           label as NSString, n, L, heads, tf * 1e3, tf / perRow * 1e9, tb * 1e3, tb / perRow * 1e9))
            }
        }
    }

    public func expRow() {
        let L = 256
        let row = random(L, seed: 3)
        defer { row.deallocate() }
        let reps = 20000
        let t = time {
            for _ in 0..<reps {
                for j in 0..<L { row[j] = -abs(row[j]) * 4 }
                _ = ScaledDotProductAttention.expShifted(row, L: L, by: 0)
            }
        }
        let tr = time { for _ in 0..<reps { for j in 0..<L { row[j] = -abs(row[j]) * 4 } } }
        log(String(format: "expShifted: %.3f ns/element (refill loop %.3f ns/element subtracted)",
                   (t - tr) / Double(reps * L) * 1e9, tr / Double(reps * L) * 1e9))
    }

    /// Attention forward pieces on one head at L = 256 (diagnostics); best of 20 timings.
    public func attentionPieces() {
        let L = 256
        let q = random(L * 8, seed: 1), k = random(L * 8, seed: 2), v = random(L * 8, seed: 3)
        let o = random(L * 8, seed: 4), lse = random(L, seed: 5)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ScaledDotProductAttention.forwardScratch(L))
        defer { for p in [q, k, v, o, lse, scratch] { p.deallocate() } }
        let reps = 200
        let scores = time(repeats: 20) {
            for _ in 0..<reps {
                ScaledDotProductAttention.transpose8(k, ld: 8, L: L, into: scratch)
                for i in 0..<L {
                    _ = ScaledDotProductAttention.scores(ScaledDotProductAttention.broadcast8(q + i * 8, 0.35),
                                                         kT: scratch, L: L, into: scratch + 16 * L)
                }
            }
        }
        let exps = time(repeats: 20) {
            for _ in 0..<reps { for _ in 0..<L { _ = ScaledDotProductAttention.expShifted(scratch + 16 * L, L: L, by: 3) } }
        }
        let pv = time(repeats: 20) {
            for _ in 0..<reps {
                var i0 = 0
                while i0 < L {
                    let r = ScaledDotProductAttention.weightedRows8(scratch + 16 * L, L: L, m: v)
                    store8(r.0 + r.1 + r.2 + r.3 + r.4 + r.5 + r.6 + r.7, o + i0)
                    i0 += 8
                }
            }
        }
        let all = time(repeats: 20) {
            for _ in 0..<reps {
                ScaledDotProductAttention.head8Forward(L: L, scale: 0.35, q: q, k: k, v: v, ld: 8, o: o, ldo: 8,
                                                       lse: lse, scratch: scratch)
            }
        }
        let per = Double(reps * L * L) / 1e9
        log(String(format: "attention pieces ns/score: scores %.3f  exp %.3f  PV %.3f  (sum %.3f)  whole head %.3f",
                   scores / per, exps / per, pv / per, (scores + exps + pv) / per, all / per))
    }

    /// Cost of one parallel region with trivial work: wall time with 2 threads, whatever `threads` is.
    public func parallelOverhead() {
        Parallel.withThreads(2) {
            let reps = 2000
            let sink = UnsafeMutablePointer<Int>.allocate(capacity: 64)
            defer { sink.deallocate() }
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = ResourceUsage.now()
                for _ in 0..<reps { Parallel.forEach(8) { i in sink[i * 8] &+= 1 } }
                best = min(best, (ResourceUsage.now() - t0) / Double(reps))
            }
            log(String(format: "parallel region (8 trivial items, 2 threads): %.1f us", best * 1e6))
        }
    }

    /// The attention projections and 1x1 shortcuts as GEMMs: (rows, in, out); then the seed
    /// preset's attention projections at batch 128 (q/k/v stacked, and to_out) and a time
    /// projection, the small preset's 32-channel ones and a time projection. Each on every GEMM path, and on oneDNN's matmul (`OneDNNMatmul`) in fp32
    /// and, where oneDNN has native bf16, in bf16 (with its conversions). GEMM's forward has no
    /// bias, oneDNN's adds one; oneDNN's dx is timed as backward with dx less without.
    public func linears() {
        for (m, k, n) in [(8192, 32, 96), (8192, 32, 32), (2048, 64, 192), (512, 128, 384), (32768, 48, 16),
                          (8192, 96, 32), (2048, 192, 64), (16384, 64, 192),
                          (32768, 64, 192), (32768, 64, 64), (8192, 128, 384), (8192, 128, 128), (2048, 256, 768),
                          (2048, 256, 256), (128, 128, 256), (32768, 32, 96), (32768, 32, 32), (128, 64, 128)] {
            let x = random(m * k, seed: 1), w = random(n * k, seed: 2), y = random(m * n, seed: 3)
            let dw = random(n * k, seed: 4), dx = random(m * k, seed: 5)
            defer { for p in [x, w, y, dw, dx] { p.deallocate() } }
            let flop = 2.0 * Double(m * n * k)
            func report(_ path: String, _ tf: Double, _ tw: Double, _ td: Double) {
                log(String(format: "linear %5d x %3d -> %3d %-12@: GFLOPS forward %6.1f  dW %6.1f  dx %6.1f",
                           m, k, n, path as NSString, flop / tf * 1e-9, flop / tw * 1e-9, flop / td * 1e-9))
            }
            let tw = time { GEMM.accumulateATB(m: m, k: n, n: k, a: y, lda: n, b: x, ldb: k, c: dw) }
            for path in KernelPath.runnable {
                let tf = time { GEMM.rows(m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, transB: true, c: y, ldc: n, path: path) }
                let td = time { GEMM.rows(m: m, n: k, k: n, a: y, lda: n, b: w, ldb: k, c: dx, ldc: k, path: path) }
                report(path == .swift ? "blas" : "avx512", tf, tw, td)
            }
            guard OneDNN.isAvailable else { continue }
            for precision in [ConvolutionPrecision.fp32] + (OneDNN.hasNativeBF16 ? [.bf16] : []) {
                func backward(_ withDx: Bool) -> Double {
                    time { _ = OneDNNMatmul.backward(m: m, k: k, n: n, x: x, ldx: k, weight: w, dy: y, lddy: n,
                                                     dx: withDx ? dx : nil, lddx: k, dweight: dw, precision: precision) }
                }
                let tf = time { _ = OneDNNMatmul.forward(m: m, k: k, n: n, x: x, ldx: k, weight: w, bias: dw, residual: nil,
                                                         y: y, ldy: n, precision: precision) }
                let tw = backward(false)
                report("onednn " + precision.rawValue, tf, tw, backward(true) - tw)
            }
        }
    }

    public func groupNorm() {
        for (n, h, c, silu) in [(32, 32, 16, true), (32, 32, 48, true), (32, 16, 32, true), (32, 8, 64, false), (32, 4, 256, true)] {
            let store = ParameterStore(), context = ForwardContext()
            let gn = GroupNorm(store, context, name: "gn", channels: c, groups: 8, eps: 1e-5, fusedSiLU: silu)
            store.allocate(); gn.initialize()
            context.recordsForBackward = true
            let x = Tensor(shape: [n, h, h, c])
            var rng = RandomStream(seed: 9)
            rng.fillNormal(x.data, count: x.count)
            let bytes = Double(x.count * 4)
            let tf = time { _ = gn.forward(x) }
            let dy = gn.forward(x)
            let tb = time { _ = gn.forward(x); _ = gn.backward(dy) } - tf
            log(String(format: "group norm %d %2d %3d silu %d: fwd %.2f ms (%.1f GB/s of x), bwd %.2f ms",
                       n, h, c, silu ? 1 : 0, tf * 1e3, bytes / tf * 1e-9, tb * 1e3))
            groupNormKernels(x, pixels: h * h, channels: c, silu: silu)
        }
    }

    /// GroupNorm's per-image kernels alone, Swift and AVX-512 side by side.
    func groupNormKernels(_ x: Tensor, pixels: Int, channels C: Int, silu: Bool) {
        let n = x.shape[0], G = 8, stride = pixels * C
        let y = Tensor(shape: x.shape), per = Tensor(shape: [8 * C])
        let p = per.data
        for c in 0..<C { p[4 * C + c] = 1; p[5 * C + c] = 0.1 }  // gamma, beta
        for path in KernelPath.runnable {
            let tf = time {
                for b in 0..<n {
                    GroupNormKernel.statistics(x.data + b * stride, pixels: pixels, channels: C, groups: G, eps: 1e-5,
                                               sums: p, channelMean: p + 2 * C, mean: p + 3 * C, rstd: p + 3 * C + G,
                                               path: path)
                    GroupNormKernel.affine(x.data + b * stride, y.data + b * stride, pixels: pixels, channels: C,
                                           scale: p + 4 * C, shift: p + 5 * C, silu: silu, path: path)
                }
            }
            let tb = time {
                for b in 0..<n {
                    GroupNormKernel.backwardSums(x.data + b * stride, x.data + b * stride, dz: y.data + b * stride,
                                                 pixels: pixels, channels: C, mean: p + 5 * C, rstd: p + 4 * C,
                                                 gamma: p + 4 * C, beta: p + 5 * C, silu: silu,
                                                 sumDz: p, sumDzXhat: p + C, path: path)
                    GroupNormKernel.inputGradient(x.data + b * stride, dz: y.data + b * stride, pixels: pixels, channels: C,
                                                  mean: p + 5 * C, a: p + 4 * C, b: p + 5 * C, d: p + 6 * C, addend: nil,
                                                  path: path)
                }
            }
            log(String(format: "  kernels %-6@ fwd %.2f ms (%.1f GB/s of x), bwd %.2f ms",
                       "\(path)" as NSString, tf * 1e3, Double(x.count * 4) / tf * 1e-9, tb * 1e3))
        }
    }
}
