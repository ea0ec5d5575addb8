/// The forward-process noise schedule: linear betas, alphas = 1 - betas and their cumulative
/// product alphaBar (`alphasCumprod`), all kept in Float64.
///
/// The recipe (and diffusers) build the betas with `torch.linspace(betaStart, betaEnd, T)` in
/// Float32 and take `alphas = 1 - betas` in Float32; torch's CPU `cumprod` then accumulates in
/// Float64 and rounds each output to Float32. With `.torchFloat32` (the default) this type holds
/// those Float32 betas and alphas promoted to Float64 and the Float64 accumulator itself, so
/// `Float(alphasCumprod[t])` equals the fixture's `alphas_cumprod` exactly and the Float64 values
/// differ from it by at most half a Float32 ulp (< 6e-8 relative). A consequence kept on purpose:
/// `1 - alphas[t]` differs from `betas[t]` by Float32 rounding (< 6e-8 absolute), as in torch.
/// `.float64` computes everything in Float64 from the start (the fixture's `abar_float64_at`).
public struct NoiseSchedule: Sendable, Equatable {
    public enum Arithmetic: String, Sendable, CaseIterable {
        /// Betas and alphas rounded to Float32 as torch computes them; cumprod in Float64.
        case torchFloat32
        /// Float64 throughout.
        case float64
    }

    public let betaStart: Double
    public let betaEnd: Double
    public let arithmetic: Arithmetic
    /// beta_t for t = 0..<T.
    public let betas: [Double]
    /// a_t = 1 - beta_t.
    public let alphas: [Double]
    /// alphaBar_t = a_0 · a_1 ⋯ a_t.
    public let alphasCumprod: [Double]

    /// Number of training timesteps T.
    public var count: Int { betas.count }

    /// The recipe's schedule: T = 1000, betas linear from 1e-4 to 0.01.
    public static let recipe = NoiseSchedule()

    public init(steps: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.01,
                arithmetic: Arithmetic = .torchFloat32) {
        precondition(steps >= 1, "a noise schedule needs at least one step, got \(steps)")
        precondition(0 < betaStart && betaStart <= betaEnd && betaEnd < 1,
                     "betas must satisfy 0 < betaStart <= betaEnd < 1, got \(betaStart)...\(betaEnd)")
        self.betaStart = betaStart
        self.betaEnd = betaEnd
        self.arithmetic = arithmetic
        switch arithmetic {
        case .torchFloat32:
            let betas32: [Float] = torchLinspace(from: betaStart, to: betaEnd, count: steps)
            betas = betas32.map(Double.init)
            alphas = betas32.map { Double(1 - $0) }
        case .float64:
            betas = torchLinspace(from: betaStart, to: betaEnd, count: steps)
            alphas = betas.map { 1 - $0 }
        }
        var alphaBar = 1.0
        alphasCumprod = alphas.map { alphaBar *= $0; return alphaBar }
    }
}
