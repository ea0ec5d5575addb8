import Foundation
import Testing
@testable import Diffusion
@testable import Kernels

/// Per-kernel speed at the U-Net's shapes, for tuning; skipped unless DIFFUSION_KERNEL_BENCH
/// is set. Build with optimisation, e.g.
///   swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-rt
///   DIFFUSION_KERNEL_BENCH=1 swift test -c release -Xswiftc -enable-testing --scratch-path .build-rt \
///       --skip-build --filter KernelBenchmarks
/// Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID) with one kernel thread, so
/// other jobs on a shared machine do not inflate them; DIFFUSION_KERNEL_BENCH_THREADS=2
/// measures wall time with two threads instead.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["DIFFUSION_KERNEL_BENCH"] != nil), .serialized, .kernelThreads(Int(ProcessInfo.processInfo.environment["DIFFUSION_KERNEL_BENCH_THREADS"] ?? "1") ?? 1))
struct KernelBenchmarks {
    static let threads = Int(ProcessInfo.processInfo.environment["DIFFUSION_KERNEL_BENCH_THREADS"] ?? "1") ?? 1

    static func clock() -> Double {
        var ts = timespec()
        clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best of `repeats` timings of `body` (after one warm-up), seconds.
    static func time(repeats: Int = Int(ProcessInfo.processInfo.environment["BENCH_REPEATS"] ?? "5")!, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = clock()
            body()
            best = min(best, clock() - t0)
        }
        return best
    }

    static func random(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
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

    @Test func convolutions() {
        print("conv n h cin->cout k s: GFLOPS forward, weight gradient, input gradient; threads \(Self.threads)")
        for (n, h, cin, cout, k, s) in Self.convShapes {
            let g = ConvGeometry(n: n, h: h, w: h, cin: cin, cout: cout, k: k, stride: s, pad: (k - 1) / 2)
            let x = Self.random(n * h * h * cin, seed: 1), w = Self.random(k * k * cin * cout, seed: 2)
            let b = Self.random(cout, seed: 3), y = Self.random(g.outRows * cout, seed: 4)
            let dx = UnsafeMutablePointer<Float>.allocate(capacity: n * h * h * cin)
            let dw = UnsafeMutablePointer<Float>.allocate(capacity: k * k * cin * cout)
            let db = UnsafeMutablePointer<Float>.allocate(capacity: cout)
            defer { for p in [x, w, b, y, dx, dw, db] { p.deallocate() } }
            let flop = 2.0 * Double(g.outRows * g.colWidth * cout)
            let tf = Self.time { Conv2D.forward(g, x: x, weight: w, bias: b, y: y) }
            let tw = Self.time { Conv2D.backward(g, x: x, weight: w, dy: y, dx: nil, dweight: dw, dbias: nil) }
            let tb = Self.time { Conv2D.backward(g, x: x, weight: w, dy: y, dx: dx, dweight: dw, dbias: nil) }
            let td = max(tb - tw, 1e-9)
            print(String(format: "conv %3d %2d %3d->%3d k%d s%d: fwd %6.1f  dW %6.1f  dx %6.1f   (%.2f / %.2f / %.2f ms)",
                         n, h, cin, cout, k, s, flop / tf * 1e-9, flop / tw * 1e-9, flop / td * 1e-9,
                         tf * 1e3, tw * 1e3, td * 1e3))
        }
    }

    @Test func attention() {
        let shapes = ProcessInfo.processInfo.environment["ATTN_QUICK"] != nil
            ? [(8, 256, 4), (32, 64, 8)]
            : [(32, 256, 4), (32, 64, 8), (32, 16, 16), (32, 256, 8), (32, 64, 16), (32, 16, 32)]
        for (n, L, heads) in shapes {
            let C = heads * 8
            let q = Self.random(n * L * C, seed: 1), k = Self.random(n * L * C, seed: 2), v = Self.random(n * L * C, seed: 3)
            let o = Self.random(n * L * C, seed: 4), lse = Self.random(n * heads * L, seed: 5)
            let dq = Self.random(n * L * C, seed: 6), dk = Self.random(n * L * C, seed: 7), dv = Self.random(n * L * C, seed: 8)
            defer { for p in [q, k, v, o, lse, dq, dk, dv] { p.deallocate() } }
            let tf = Self.time {
                ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: 8, q: q, k: k, v: v, o: o, lse: lse)
            }
            let tb = Self.time {
                ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: 8, q: q, k: k, v: v, o: o,
                                                   lse: lse, dout: q, dq: dq, dk: dk, dv: dv)
            }
            let perRow = Double(n * heads * L * L)
            print(String(format: "attention n %d L %3d heads %2d: fwd %.2f ms (%.2f ns/score), bwd %.2f ms (%.2f ns/score)",
                         n, L, heads, tf * 1e3, tf / perRow * 1e9, tb * 1e3, tb / perRow * 1e9))
        }
    }

    @Test func expRow() {
        let L = 256
        let row = Self.random(L, seed: 3)
        defer { row.deallocate() }
        let reps = 20000
        let t = Self.time {
            for _ in 0..<reps {
                for j in 0..<L { row[j] = -abs(row[j]) * 4 }
                _ = ScaledDotProductAttention.expShifted(row, L: L, by: 0)
            }
        }
        let tr = Self.time { for _ in 0..<reps { for j in 0..<L { row[j] = -abs(row[j]) * 4 } } }
        print(String(format: "expShifted: %.3f ns/element (refill loop %.3f ns/element subtracted)",
                     (t - tr) / Double(reps * L) * 1e9, tr / Double(reps * L) * 1e9))
    }

    /// Attention forward pieces on one head at L = 256 (diagnostics).
    @Test func attentionPieces() {
        let L = 256
        let q = Self.random(L * 8, seed: 1), k = Self.random(L * 8, seed: 2), v = Self.random(L * 8, seed: 3)
        let o = Self.random(L * 8, seed: 4), lse = Self.random(L, seed: 5)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ScaledDotProductAttention.forwardScratch(L))
        defer { for p in [q, k, v, o, lse, scratch] { p.deallocate() } }
        let reps = 200
        let scores = Self.time(repeats: 20) {
            for _ in 0..<reps {
                ScaledDotProductAttention.transpose8(k, ld: 8, L: L, into: scratch)
                for i in 0..<L {
                    _ = ScaledDotProductAttention.scores(ScaledDotProductAttention.broadcast8(q + i * 8, 0.35),
                                                         kT: scratch, L: L, into: scratch + 16 * L)
                }
            }
        }
        let exps = Self.time(repeats: 20) {
            for _ in 0..<reps { for _ in 0..<L { _ = ScaledDotProductAttention.expShifted(scratch + 16 * L, L: L, by: 3) } }
        }
        let pv = Self.time(repeats: 20) {
            for _ in 0..<reps {
                var i0 = 0
                while i0 < L {
                    let r = ScaledDotProductAttention.weightedRows8(scratch + 16 * L, L: L, m: v)
                    store8(r.0 + r.1 + r.2 + r.3 + r.4 + r.5 + r.6 + r.7, o + i0)
                    i0 += 8
                }
            }
        }
        let all = Self.time(repeats: 20) {
            for _ in 0..<reps {
                ScaledDotProductAttention.head8Forward(L: L, scale: 0.35, q: q, k: k, v: v, ld: 8, o: o, ldo: 8,
                                                       lse: lse, scratch: scratch)
            }
        }
        let per = Double(reps * L * L) / 1e9
        print(String(format: "attention pieces ns/score: scores %.3f  exp %.3f  PV %.3f  (sum %.3f)  whole head %.3f",
                     scores / per, exps / per, pv / per, (scores + exps + pv) / per, all / per))
    }

    /// Cost of one parallel region with trivial work (wall time, 2 threads).
    @Test func parallelOverhead() {
        Parallel.withThreads(2) { parallelOverheadWithTwoThreads() }
    }

    func parallelOverheadWithTwoThreads() {
        var ts = timespec()
        func now() -> Double { clock_gettime(CLOCK_MONOTONIC, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 }
        let reps = 2000
        let sink = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { sink.deallocate() }
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = now()
            for _ in 0..<reps { Parallel.forEach(8) { i in sink[i * 8] &+= 1 } }
            best = min(best, (now() - t0) / Double(reps))
        }
        print(String(format: "parallel region (8 trivial items, 2 threads): %.1f us", best * 1e6))
    }

    /// The attention projections and 1x1 shortcuts as GEMMs: (rows, in, out).
    @Test func linears() {
        for (m, k, n) in [(8192, 32, 96), (8192, 32, 32), (2048, 64, 192), (512, 128, 384), (32768, 48, 16),
                          (8192, 96, 32), (2048, 192, 64), (16384, 64, 192)] {
            let x = Self.random(m * k, seed: 1), w = Self.random(n * k, seed: 2), y = Self.random(m * n, seed: 3)
            let dw = Self.random(n * k, seed: 4), dx = Self.random(m * k, seed: 5)
            defer { for p in [x, w, y, dw, dx] { p.deallocate() } }
            let flop = 2.0 * Double(m * n * k)
            let tf = Self.time { GEMM.rows(m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, transB: true, c: y, ldc: n) }
            let tw = Self.time { GEMM.accumulateATB(m: m, k: n, n: k, a: y, lda: n, b: x, ldb: k, c: dw) }
            let td = Self.time { GEMM.rows(m: m, n: k, k: n, a: y, lda: n, b: w, ldb: k, c: dx, ldc: k) }
            print(String(format: "linear %5d x %3d -> %3d: GFLOPS forward %6.1f  dW %6.1f  dx %6.1f",
                         m, k, n, flop / tf * 1e-9, flop / tw * 1e-9, flop / td * 1e-9))
        }
    }

    @Test func groupNorm() {
        for (n, h, c, silu) in [(32, 32, 16, true), (32, 32, 48, true), (32, 16, 32, true), (32, 8, 64, false), (32, 4, 256, true)] {
            let store = ParameterStore(), context = ForwardContext()
            let gn = GroupNorm(store, context, name: "gn", channels: c, groups: 8, eps: 1e-5, fusedSiLU: silu)
            store.allocate(); gn.initialize()
            context.recordsForBackward = true
            let x = Tensor(shape: [n, h, h, c])
            var rng = RandomStream(seed: 9)
            rng.fillNormal(x.data, count: x.count)
            let bytes = Double(x.count * 4)
            let tf = Self.time { _ = gn.forward(x) }
            let dy = gn.forward(x)
            let tb = Self.time { _ = gn.forward(x); _ = gn.backward(dy) } - tf
            print(String(format: "group norm %d %2d %3d silu %d: fwd %.2f ms (%.1f GB/s of x), bwd %.2f ms",
                         n, h, c, silu ? 1 : 0, tf * 1e3, bytes / tf * 1e-9, tb * 1e3))
        }
    }
}
