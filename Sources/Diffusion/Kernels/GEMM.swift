/// Matrix products spread over `Parallel.threads`, each piece one single-threaded sgemm
/// (OpenBLAS stays at one thread: see `BLAS.configure`). All row-major.
public enum GEMM {
    /// C[m,n] = A[m,k] op(B) (+ C when `accumulate`), split by rows of A and C.
    /// op(B) is B[k,n] (ldb >= n) or, with `transB`, B stored [n,k] (ldb >= k).
    public static func rows(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        let minRows = max(16, 32768 / max(n + k, 1))
        Parallel.forRanges(m, minChunk: minRows) { r in
            BLAS.sgemm(transB: transB, m: r.count, n: n, k: k,
                       a: a + r.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                       beta: accumulate ? 1 : 0, c: c + r.lowerBound * ldc, ldc: ldc)
        }
    }

    /// C[k,n] += A[m,k]^T B[m,n]: the weight-gradient shape, a sum over the m rows.
    /// Each worker sums its share of rows into a private buffer; the buffers are added at the end.
    public static func accumulateATB(m: Int, k: Int, n: Int,
                                     a: UnsafePointer<Float>, lda: Int,
                                     b: UnsafePointer<Float>, ldb: Int,
                                     c: UnsafeMutablePointer<Float>) {
        let workers = min(Parallel.threads, max(1, m / 64))
        if workers <= 1 {
            BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a, lda: lda, b: b, ldb: ldb,
                       beta: 1, c: c, ldc: n)
            return
        }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: workers * k * n)
        defer { partials.deallocate() }
        let per = (m + workers - 1) / workers
        Parallel.forEach(workers) { w in
            let lo = w * per, hi = min(m, lo + per)
            let out = partials + w * k * n
            if hi <= lo { out.update(repeating: 0, count: k * n); return }
            BLAS.sgemm(transA: true, m: k, n: n, k: hi - lo, a: a + lo * lda, lda: lda,
                       b: b + lo * ldb, ldb: ldb, beta: 0, c: out, ldc: n)
        }
        for w in 0..<workers {
            let p = partials + w * k * n
            for i in 0..<(k * n) { c[i] += p[i] }
        }
    }

    /// out[j] += sum over rows of x[rows, cols] (bias gradients).
    public static func accumulateColumnSums(rows: Int, cols: Int, x: UnsafePointer<Float>,
                                            into out: UnsafeMutablePointer<Float>) {
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: cols)
        acc.initialize(repeating: 0, count: cols)
        defer { acc.deallocate() }
        for r in 0..<rows {
            let row = x + r * cols
            for j in 0..<cols { acc[j] += Double(row[j]) }
        }
        for j in 0..<cols { out[j] += Float(acc[j]) }
    }
}
