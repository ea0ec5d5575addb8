import CBLAS

/// Eigen-decomposition of a real symmetric matrix with LAPACK's divide-and-conquer solver
/// (`dsyevd`), in Float64.
public enum SymmetricEigen {
    /// Eigenvalues (ascending) of the symmetric n x n matrix `a` (row-major; only the upper
    /// triangle is read) and, if `vectors` is true, the eigenvectors.
    ///
    /// The eigenvectors come back as an n x n row-major array whose row k is the unit
    /// eigenvector for `values[k]` (LAPACK's column-major Z read row-major, i.e. Zᵀ), so that
    /// `a = Σ_k values[k] · v_k v_kᵀ`.
    ///
    /// - Parameter context: names the caller in error messages ("covariance 1 of FID").
    public static func decompose(_ a: [Double], dimension n: Int, vectors: Bool = true,
                                 context: String = "symmetric eigen-decomposition")
        throws -> (values: [Double], vectors: [Double])
    {
        guard n >= 0, a.count == n * n else {
            throw MetricsError.dimensionMismatch(
                "\(context): matrix has \(a.count) entries, expected \(n)x\(n) = \(n * n)")
        }
        if n == 0 { return ([], []) }
        if let bad = a.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("\(context): entry (\(bad / n), \(bad % n)) is \(a[bad])")
        }
        guard n <= 46340 else {  // n*n must fit LAPACK's 32-bit integers
            throw MetricsError.invalidArgument("\(context): dimension \(n) too large for 32-bit LAPACK")
        }

        // LAPACK is column-major; a symmetric matrix is its own transpose, so the row-major
        // array is the same matrix. Asking for the upper triangle in column-major terms reads
        // the lower triangle of the row-major array: use "L" so that row-major upper is read.
        var z = a
        var w = [Double](repeating: 0, count: n)
        var jobz = Int8(UInt8(ascii: vectors ? "V" : "N"))
        var uplo = Int8(UInt8(ascii: "L"))
        var n32 = Int32(n), lda = Int32(n), info: Int32 = 0

        // Workspace query (lwork = liwork = -1), then the real call.
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        dsyevd_(&jobz, &uplo, &n32, &z, &lda, &w, &workSize, &lwork, &iworkSize, &liwork, &info)
        guard info == 0 else {
            throw MetricsError.lapackFailure(routine: "dsyevd", info: Int(info),
                                             context: "\(context) (workspace query)")
        }
        lwork = Int32(workSize.rounded(.up))
        liwork = max(iworkSize, 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &n32, &z, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else {
            throw MetricsError.lapackFailure(routine: "dsyevd", info: Int(info), context: context)
        }
        return (w, vectors ? z : [])
    }
}
