/// Errors from the feature statistics and the FID/KID computations. Each says what was
/// wrong and what was expected, so the launcher can print it as it is.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    /// Two inputs that must agree in size do not (`what` names them).
    case dimensionMismatch(String)
    /// Too few samples for the estimate asked for.
    case tooFewSamples(String)
    /// An argument outside its valid range.
    case invalidArgument(String)
    /// A NaN or infinity in an input matrix or vector.
    case nonFinite(String)
    /// A LAPACK routine reported `info != 0`.
    case lapackFailure(routine: String, info: Int, context: String)

    public var description: String {
        switch self {
        case .dimensionMismatch(let s): return "dimension mismatch: \(s)"
        case .tooFewSamples(let s): return "too few samples: \(s)"
        case .invalidArgument(let s): return "invalid argument: \(s)"
        case .nonFinite(let s): return "non-finite value: \(s)"
        case .lapackFailure(let routine, let info, let context):
            let why = info < 0
                ? "argument \(-info) had an illegal value"
                : "failed to converge (info \(info))"
            return "LAPACK \(routine) failed in \(context): \(why)"
        }
    }
}
