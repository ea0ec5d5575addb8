/// Where the recipe's samplers (t = T-1 down to 1) evaluate the model; elsewhere they reuse
/// the last noise prediction. Counts are for T = 1000 (999 steps); the sampler always
/// evaluates its first step, which every preset below includes anyway.
public enum EvaluationSkip: String, Sendable, CaseIterable {
    /// Every step, none skipped: 999 evaluations. (Spelled `all` before; the command line
    /// still takes that.)
    case everyStep = "every-step"
    /// The recipe's DDPM predicate `t % 3 == 0 || t < 50`: 333 multiples of 3 in 1...999
    /// plus the 33 other t in 1...49 = 366 evaluations.
    case recipe
    /// The original DDIM comparison's 367 evaluations (632 reused). Only the count survives;
    /// `t % 3 == 0 || t <= 50` (the DDPM predicate with the DDIM preset's "t <= 50") gives
    /// 333 + 34 = 367.
    case evaluate367 = "367"
    /// "Every 10th step and all t <= 50", counted from the first step:
    /// `(T-1-t) % 10 == 0 || t <= 50`, i.e. t = 999, 989, ..., 9 (100) plus the 45 other
    /// t in 1...50 = 145 evaluations. (`t % 10 == 0` plus the forced first step also gives 145.)
    case every10

    public func evaluates(t: Int, trainSteps T: Int) -> Bool {
        switch self {
        case .everyStep: return true
        case .recipe: return t % 3 == 0 || t < 50
        case .evaluate367: return t % 3 == 0 || t <= 50
        case .every10: return (T - 1 - t) % 10 == 0 || t <= 50
        }
    }
}
