import CBLAS

/// Fréchet distance between two Gaussians N(μ₁, S₁) and N(μ₂, S₂) — FID when μ and S are
/// the mean and covariance of classifier features (Heusel et al. 2017):
///
///     FID = |μ₁ − μ₂|² + tr S₁ + tr S₂ − 2 tr √(S₁ S₂)
///
/// tr √(S₁ S₂) is the sum of √λ over the eigenvalues λ of the symmetric PSD matrix
/// √S₁ S₂ √S₁ (which has the same eigenvalues as S₁ S₂), with √S₁ from S₁'s
/// eigen-decomposition. Small negative eigenvalues, from rounding or from a rank-deficient
/// covariance (fewer samples than features), are clamped to 0 in both steps; covariances
/// that are not symmetric positive semi-definite beyond rounding are refused
/// (`CovarianceCheck`). All in Float64.
///
/// The result is not clamped: for (near-)identical statistics it may come out as a tiny
/// negative number of the size of the rounding error.
public enum FrechetDistance {
    /// FID from means (length d) and covariances (d×d row-major, symmetric).
    public static func compute(mean1: [Double], covariance1: [Double],
                               mean2: [Double], covariance2: [Double]) throws -> Double {
        let d = mean1.count
        guard d > 0 else { throw MetricsError.invalidArgument("FID of empty (dimension 0) statistics") }
        guard mean2.count == d else {
            throw MetricsError.dimensionMismatch("FID: mean 1 has \(d) entries, mean 2 has \(mean2.count)")
        }
        guard covariance1.count == d * d, covariance2.count == d * d else {
            throw MetricsError.dimensionMismatch(
                "FID: covariances have \(covariance1.count) and \(covariance2.count) entries, expected \(d)x\(d) = \(d * d)")
        }
        for (name, v) in [("mean 1", mean1), ("mean 2", mean2)] {
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw MetricsError.nonFinite("FID: \(name) entry \(bad) is \(v[bad])")
            }
        }
        try CovarianceCheck.validate(covariance1, mean: mean1, dimension: d, name: "FID: covariance 1")
        try CovarianceCheck.validate(covariance2, mean: mean2, dimension: d, name: "FID: covariance 2")
        var meanTerm = 0.0
        for i in 0..<d { let diff = mean1[i] - mean2[i]; meanTerm += diff * diff }
        var traces = 0.0
        for i in 0..<d { traces += covariance1[i * d + i] + covariance2[i * d + i] }
        let cross = try traceSqrtProduct(covariance1, covariance2, dimension: d)
        return meanTerm + traces - 2 * cross
    }

    /// FID between two sets of accumulated feature statistics (each needs n ≥ 2).
    public static func compute(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        guard a.dimension == b.dimension else {
            throw MetricsError.dimensionMismatch("FID: statistics of dimension \(a.dimension) and \(b.dimension)")
        }
        return try compute(mean1: a.mean(), covariance1: a.covariance(),
                           mean2: b.mean(), covariance2: b.covariance())
    }

    /// tr √(S₁ S₂) for symmetric PSD S₁, S₂ (d×d row-major).
    ///
    /// With S₁ = Eᵀ Λ E (rows of E the eigenvectors) and D = √max(Λ, 0), √S₁ = Eᵀ D E and
    /// √S₁ S₂ √S₁ = Eᵀ (D E S₂ Eᵀ D) E, so the eigenvalues are those of M = B S₂ Bᵀ with
    /// B = D E: two d³ products instead of three, and M is symmetric by construction.
    public static func traceSqrtProduct(_ s1: [Double], _ s2: [Double], dimension d: Int) throws -> Double {
        guard s1.count == d * d, s2.count == d * d else {
            throw MetricsError.dimensionMismatch(
                "tr sqrt(S1 S2): matrices have \(s1.count) and \(s2.count) entries, expected \(d)x\(d) = \(d * d)")
        }
        if d == 0 { return 0 }
        if let bad = s2.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("FID: covariance 2 entry (\(bad / d), \(bad % d)) is \(s2[bad])")
        }
        let (lambda, e) = try SymmetricEigen.decompose(s1, dimension: d, context: "FID: sqrt of covariance 1")

        var b = e
        for k in 0..<d {
            let s = max(lambda[k], 0).squareRoot()
            for j in 0..<d { b[k * d + j] *= s }
        }
        var c = [Double](repeating: 0, count: d * d)
        var m = [Double](repeating: 0, count: d * d)
        let n32 = Int32(d)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n32, n32, n32,
                    1.0, b, n32, s2, n32, 0.0, &c, n32)           // C = B S₂
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n32, n32, n32,
                    1.0, c, n32, b, n32, 0.0, &m, n32)            // M = C Bᵀ
        // Symmetric in exact arithmetic; average out the rounding asymmetry.
        for i in 0..<d {
            for j in (i + 1)..<d {
                let v = 0.5 * (m[i * d + j] + m[j * d + i])
                m[i * d + j] = v
                m[j * d + i] = v
            }
        }
        let (mu, _) = try SymmetricEigen.decompose(m, dimension: d, vectors: false,
                                                   context: "FID: eigenvalues of sqrt(S1) S2 sqrt(S1)")
        return mu.reduce(0.0) { $0 + max($1, 0).squareRoot() }
    }
}
