import CBLAS

public enum BLAS {
    /// OpenBLAS's own threads keep spinning after a threaded call and steal cores from our
    /// workers (measured: docs/kernels.md), so it runs single-threaded and `Parallel` does the
    /// threading.
    public static func configure(threads: Int) {
        keepSingleThreaded()
        Parallel.setProcessThreads(threads)
    }

    /// OpenBLAS to one thread, leaving our thread count as it is.
    public static func keepSingleThreaded() { openblas_set_num_threads(1) }

    public static var configDescription: String {
        guard let c = openblas_get_config() else { return "OpenBLAS (unknown)" }
        return String(cString: c)
    }

    /// C[m,n] = alpha * op(A) op(B) + beta * C, row-major.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
