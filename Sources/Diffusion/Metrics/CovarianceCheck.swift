/// What makes a d×d matrix usable as a covariance in FID: finite, symmetric and positive
/// semi-definite, each up to rounding. A matrix that is not (a hand-made or damaged statistics
/// file) would make tr √(S₁ S₂) meaningless and FID possibly negative, so it is refused.
public enum CovarianceCheck {
    /// Asymmetry and negative eigenvalues are tolerated up to this fraction of the trace:
    /// far above float64 rounding (and float32 storage), far below any real defect.
    public static let relativeTolerance = 1e-6

    /// Throws a `MetricsError` saying what is wrong with `s` (d×d row-major); `name` says
    /// which matrix it is.
    public static func validate(_ s: [Double], dimension d: Int, name: String) throws {
        guard d >= 0, s.count == d * d else {
            throw MetricsError.dimensionMismatch("\(name) has \(s.count) entries, expected \(d)x\(d)")
        }
        if let bad = s.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("\(name) entry (\(bad / d), \(bad % d)) is \(s[bad])")
        }
        var trace = 0.0
        for i in 0..<d {
            guard s[i * d + i] >= 0 else {
                throw MetricsError.invalidArgument("\(name) is not a covariance matrix: diagonal entry \(i) is \(s[i * d + i]), "
                                                   + "expected variances >= 0")
            }
            trace += s[i * d + i]
        }
        let tolerance = relativeTolerance * trace
        for i in 0..<d {
            for j in (i + 1)..<d where abs(s[i * d + j] - s[j * d + i]) > tolerance {
                throw MetricsError.invalidArgument(
                    "\(name) is not symmetric: entries (\(i), \(j)) = \(s[i * d + j]) and (\(j), \(i)) = \(s[j * d + i]) "
                    + "differ by more than \(relativeTolerance) x its trace \(trace)")
            }
        }
        let (eigenvalues, _) = try SymmetricEigen.decompose(s, dimension: d, vectors: false, context: name)
        if let lowest = eigenvalues.min(), lowest < -tolerance {
            throw MetricsError.invalidArgument(
                "\(name) is not positive semi-definite: eigenvalue \(lowest) is below -\(relativeTolerance) x its trace \(trace)")
        }
    }
}
