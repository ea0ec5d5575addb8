/// What makes a d×d matrix usable as a covariance in FID: finite, symmetric and positive
/// semi-definite, each up to rounding. A matrix that is not (a hand-made or damaged statistics
/// file) would make tr √(S₁ S₂) meaningless and FID possibly negative, so it is refused.
public enum CovarianceCheck {
    /// Asymmetry and negative eigenvalues are tolerated up to this fraction of the second
    /// moment's trace, tr S + |μ|² (a covariance is E[xxᵀ] − μμᵀ, so its rounding error scales
    /// with that, not with tr S, which is ~0 for near-constant features): far above float64
    /// rounding and float32 storage, far below any real defect.
    public static let relativeTolerance = 1e-6

    /// Throws a `MetricsError` saying what is wrong with `s` (d×d row-major), the covariance
    /// of features with mean `mean`; `name` says which matrix it is.
    public static func validate(_ s: [Double], mean: [Double], dimension d: Int, name: String) throws {
        guard d >= 0, s.count == d * d else {
            throw MetricsError.dimensionMismatch("\(name) has \(s.count) entries, expected \(d)x\(d)")
        }
        if let bad = s.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("\(name) entry (\(bad / d), \(bad % d)) is \(s[bad])")
        }
        let trace = (0..<d).reduce(0.0) { $0 + s[$1 * d + $1] }
        let scale = trace + mean.reduce(0) { $0 + $1 * $1 }
        let tolerance = relativeTolerance * scale
        for i in 0..<d where s[i * d + i] < -tolerance {
            throw MetricsError.invalidArgument("\(name) is not a covariance matrix: diagonal entry \(i) is \(s[i * d + i]), "
                                               + "expected variances >= 0")
        }
        for i in 0..<d {
            for j in (i + 1)..<d where abs(s[i * d + j] - s[j * d + i]) > tolerance {
                throw MetricsError.invalidArgument(
                    "\(name) is not symmetric: entries (\(i), \(j)) = \(s[i * d + j]) and (\(j), \(i)) = \(s[j * d + i]) "
                    + "differ by more than \(relativeTolerance) x (trace + |mean|^2) = \(tolerance)")
            }
        }
        let (eigenvalues, _) = try SymmetricEigen.decompose(s, dimension: d, vectors: false, context: name)
        if let lowest = eigenvalues.min(), lowest < -tolerance {
            throw MetricsError.invalidArgument(
                "\(name) is not positive semi-definite: eigenvalue \(lowest) is below -\(relativeTolerance) x (trace + |mean|^2) = -\(tolerance)")
        }
    }
}
