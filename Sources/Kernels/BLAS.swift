import CBLAS
import CPeak
import Foundation

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

    /// The kernel set OpenBLAS chose when it loaded ("Haswell", "SkylakeX", "Zen", ...).
    public static var coreName: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }

    /// The `OPENBLAS_CORETYPE` to ask for instead of OpenBLAS's own choice, or nil to keep it.
    /// OpenBLAS picks its kernels by CPU model when the library loads, and a model newer than
    /// the library falls back to "Prescott", its SSE3 kernels: Debian's 0.3.21 did so on an
    /// Intel Xeon of family 6 model 207, where the U-Net's linears then ran 3.4x slower
    /// (docs/kernels.md). Only that fallback is overridden, by what the CPU's vector
    /// instructions allow; a core OpenBLAS recognised is left alone.
    package static func preferredCoreType(detected: String, hasAVX2: Bool, hasAVX512: Bool) -> String? {
        guard detected.lowercased() == "prescott" else { return nil }
        if hasAVX512 { return "SkylakeX" }
        if hasAVX2 { return "Haswell" }
        return nil
    }

    /// `preferredCoreType` for this CPU and this process's OpenBLAS; nil when
    /// `OPENBLAS_CORETYPE` is already set (the user's or an earlier choice stands).
    public static var preferredCoreTypeHere: String? {
        if getenv("OPENBLAS_CORETYPE") != nil { return nil }
        return preferredCoreType(detected: coreName, hasAVX2: peak_has_fma256() != 0, hasAVX512: peak_has_avx512() != 0)
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
