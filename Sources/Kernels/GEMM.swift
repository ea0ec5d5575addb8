import CAVX512

/// Matrix products spread over `Parallel.threads`, each piece one single-threaded sgemm
/// (OpenBLAS stays at one thread: see `BLAS.configure`). All row-major.
public enum GEMM {
    /// Rows per piece of a row-split product: large enough that OpenBLAS's packing of B
    /// (k x n, repeated for every piece) stays a small share, small enough to balance.
    package static func rowChunk(m: Int, n: Int, k: Int) -> Int {
        let byCost = max(16, (1 << 16) / max(n + k, 1))
        let byBalance = max(16, (m + 8 * Parallel.threads - 1) / (8 * Parallel.threads))
        return min(max(byCost, 64), max(byBalance, 16), max(m, 1))
    }

    /// C[m,n] = A[m,k] op(B) (+ C when `accumulate`), split by rows of A and C.
    /// op(B) is B[k,n] (ldb >= n) or, with `transB`, B stored [n,k] (ldb >= k).
    public static func rows(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        rows(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
             beta: accumulate ? 1 : 0, prologue: nil)
    }

    /// `rows` on a named path (tests and benchmarks).
    package static func rows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                             c: UnsafeMutablePointer<Float>, ldc: Int, path: KernelPath) {
        rows(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
             beta: 0, prologue: nil, path: path)
    }

    /// As `rows`, with `prologue(range)` run on each piece's rows of C just before its
    /// sgemm (beta = `beta`): bias and residual fills then happen while those rows are in cache.
    package static func rows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                     c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float,
                     prologue: ((Range<Int>) -> Void)?, path: KernelPath = .best) {
        if m <= 0 { return }
        if path.runsAVX512(when: n % 16 == 0 && k <= avx512MaxDepth && (beta == 0 || beta == 1)) {
            return avx512Rows(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
                              accumulate: beta == 1, prologue: prologue)
        }
        let chunk = rowChunk(m: m, n: n, k: k)
        Parallel.forEach((m + chunk - 1) / chunk) { p in
            let r = (p * chunk)..<min(m, (p + 1) * chunk)
            prologue?(r)
            BLAS.sgemm(transB: transB, m: r.count, n: n, k: k,
                       a: a + r.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c + r.lowerBound * ldc, ldc: ldc)
        }
    }

    /// Depth up to which the AVX-512 kernel runs: without packing or blocking k it measured
    /// 1.1-1.4x OpenBLAS up to k = 576 (the linears, and im2col of 3x3 convolutions up to 64
    /// channels), 0.9x at 768 and 0.4x at 2304 (one thread, 2026-12-03).
    static let avx512MaxDepth = 640

    /// `rows` on the AVX-512 kernel (Sources/CAVX512/gemm.c: no packing, 1.2-1.5x OpenBLAS on
    /// the linears' shapes, docs/kernels.md); a transposed B is transposed once up front.
    static func avx512Rows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                           prologue: ((Range<Int>) -> Void)?) {
        var bt: UnsafeMutablePointer<Float>? = nil
        if transB {
            let t = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            for j in 0..<n { for i in 0..<k { t[i * n + j] = b[j * ldb + i] } }
            bt = t
        }
        defer { bt?.deallocate() }
        let bk = UnsafePointer(bt) ?? b, ldbk = transB ? n : ldb
        let chunk = rowChunk(m: m, n: n, k: k)
        Parallel.forEach((m + chunk - 1) / chunk) { p in
            let r = (p * chunk)..<min(m, (p + 1) * chunk)
            prologue?(r)
            avx512_gemm(r.count, n, k, a + r.lowerBound * lda, lda, bk, ldbk, c + r.lowerBound * ldc, ldc,
                        accumulate ? 1 : 0)
        }
    }

    /// C[k,n] += A[m,k]^T B[m,n]: the weight-gradient shape, a sum over the m rows.
    /// Row chunks go out dynamically; each worker sums its chunks into a private buffer and
    /// the buffers are added at the end.
    public static func accumulateATB(m: Int, k: Int, n: Int,
                                     a: UnsafePointer<Float>, lda: Int,
                                     b: UnsafePointer<Float>, ldb: Int,
                                     c: UnsafeMutablePointer<Float>) {
        if m <= 0 { return }
        let chunk = max(256, min(2048, (m + 4 * Parallel.threads - 1) / (4 * Parallel.threads)))
        let chunks = (m + chunk - 1) / chunk
        let workers = Parallel.workerCount(chunks)
        if workers <= 1 {
            BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: n)
            return
        }
        let partials = WorkerPartials(workers: workers, size: k * n)
        Parallel.forEachWithWorker(chunks) { ci, w in
            let lo = ci * chunk, hi = min(m, lo + chunk)
            BLAS.sgemm(transA: true, m: k, n: n, k: hi - lo, a: a + lo * lda, lda: lda,
                       b: b + lo * ldb, ldb: ldb, beta: partials.beta(w), c: partials[w], ldc: n)
        }
        partials.addAll(into: c)
    }

    /// out[j] += sum over rows of x[rows, cols] (bias gradients); rows `ld` apart.
    public static func accumulateColumnSums(rows: Int, cols: Int, x: UnsafePointer<Float>,
                                            into out: UnsafeMutablePointer<Float>) {
        accumulateColumnSums(rows: rows, cols: cols, x: x, ld: cols, into: out)
    }

    /// out[j] += sum over rows of x[rows, cols] in Float (a task's share: <= a few thousand
    /// rows, 8 columns a vector, two interleaved accumulators).
    package static func addColumnSums(rows: Int, cols: Int, x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 8 <= cols {
            var s0 = Float8(), s1 = Float8()
            var r = 0
            while r + 2 <= rows { s0 += load8(x + r * cols + c); s1 += load8(x + (r + 1) * cols + c); r += 2 }
            if r < rows { s0 += load8(x + r * cols + c) }
            store8(load8(out + c) + s0 + s1, out + c)
            c += 8
        }
        while c < cols {
            var s: Float = 0
            for r in 0..<rows { s += x[r * cols + c] }
            out[c] += s
            c += 1
        }
    }

    /// out[j] += sum over rows of x[rows, cols], single-threaded (for callers that already
    /// run one task per image): Float over blocks of 256 rows, Double across blocks.
    package static func columnSums(rows: Int, cols: Int, x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 8 <= cols {
            var total = SIMD8<Double>()
            var lo = 0
            while lo < rows {
                let hi = min(rows, lo + 256)
                var s0 = Float8(), s1 = Float8()
                var r = lo
                while r + 2 <= hi { s0 += load8(x + r * cols + c); s1 += load8(x + (r + 1) * cols + c); r += 2 }
                if r < hi { s0 += load8(x + r * cols + c) }
                total += SIMD8<Double>(s0 + s1)
                lo = hi
            }
            for j in 0..<8 { out[c + j] += Float(total[j]) }
            c += 8
        }
        while c < cols {
            var s = 0.0
            for r in 0..<rows { s += Double(x[r * cols + c]) }
            out[c] += Float(s)
            c += 1
        }
    }

    /// Float sums over blocks of <= 256 rows, 8 columns a vector; the blocks are combined
    /// in Double per worker and across workers.
    package static func accumulateColumnSums(rows: Int, cols: Int, x: UnsafePointer<Float>, ld: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        if rows <= 0 { return }
        let block = 256
        let blocks = (rows + block - 1) / block
        let workers = Parallel.workerCount(blocks)
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: workers * cols)
        acc.initialize(repeating: 0, count: workers * cols)
        defer { acc.deallocate() }
        Parallel.forEachWithWorker(blocks) { bi, w in
            let lo = bi * block, hi = min(rows, lo + block)
            let dst = acc + w * cols
            var c = 0
            while c + 8 <= cols {
                var s0 = Float8(), s1 = Float8()
                var r = lo
                while r + 2 <= hi { s0 += load8(x + r * ld + c); s1 += load8(x + (r + 1) * ld + c); r += 2 }
                if r < hi { s0 += load8(x + r * ld + c) }
                let s = s0 + s1
                for j in 0..<8 { dst[c + j] += Double(s[j]) }
                c += 8
            }
            while c < cols {
                var s: Float = 0
                for r in lo..<hi { s += x[r * ld + c] }
                dst[c] += Double(s)
                c += 1
            }
        }
        for c in 0..<cols {
            var s = 0.0
            for w in 0..<workers { s += acc[w * cols + c] }
            out[c] += Float(s)
        }
    }
}

/// One private accumulation buffer per worker (weight gradients): a worker's first product
/// overwrites its buffer (beta 0), later ones add (beta 1); untouched buffers are skipped.
package final class WorkerPartials {
    let workers, size: Int
    let base: UnsafeMutablePointer<Float>
    private let used: UnsafeMutablePointer<Bool>

    init(workers: Int, size: Int) {
        self.workers = workers; self.size = size
        base = .allocate(capacity: workers * size)
        used = .allocate(capacity: workers)
        used.initialize(repeating: false, count: workers)
    }

    deinit { base.deallocate(); used.deallocate() }

    subscript(w: Int) -> UnsafeMutablePointer<Float> { base + w * size }

    /// Beta for worker w's next product into its buffer; marks the buffer as used.
    /// Only worker w calls this for index w, so no lock is needed.
    func beta(_ w: Int) -> Float {
        if used[w] { return 1 }
        used[w] = true
        return 0
    }

    /// out += sum of the used buffers.
    func addAll(into out: UnsafeMutablePointer<Float>) {
        addAll(range: 0..<size, into: out)
    }

    /// out[i - range.lowerBound] += sum of the used buffers' elements i in `range`.
    func addAll(range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let live = (0..<workers).filter { used[$0] }
        Parallel.forRanges(range.count, minChunk: 1 << 14) { r in
            for w in live {
                Vectorized.add(self[w] + range.lowerBound + r.lowerBound, into: out + r.lowerBound, count: r.count)
            }
        }
    }
}
