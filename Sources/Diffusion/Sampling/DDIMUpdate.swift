/// The DDIM update (Song et al. 2021, eq. 12, with sigma from eq. 16), shared by the diffusers
/// scheduler, the recipe's sampler and the paper's strided sampler; they differ only in which
/// alphaBar they step between, the clipping, and eta.
///
///     x0     = (x_t - sqrt(1 - alphaBar) eps) / sqrt(alphaBar)       (clipped to ±clip if set)
///     sigma  = eta sqrt((1 - alphaBarPrev)/(1 - alphaBar)) sqrt(1 - alphaBar/alphaBarPrev)
///     x_prev = sqrt(alphaBarPrev) x0 + sqrt(1 - alphaBarPrev - sigma^2) eps + sigma z
///
/// As in diffusers, the direction term uses the model's eps even when x0 was clipped.
enum DDIMUpdate {
    static func sigma(eta: Double, alphaBar: Double, alphaBarPrev: Double) -> Double {
        let variance = (1 - alphaBarPrev) / (1 - alphaBar) * (1 - alphaBar / alphaBarPrev)
        return eta * variance.squareRoot()
    }

    static func step(eps: Tensor, x: Tensor, alphaBar: Double, alphaBarPrev: Double,
                     sigma: Double, clip: Double?, noise z: Tensor?) -> (prevSample: Tensor, predOriginal: Tensor) {
        let x0 = StepArithmetic.predictX0(x: x, eps: eps, alphaBar: alphaBar)
        if let clip { StepArithmetic.clamp(x0, to: clip) }
        // max(0, ·) only guards rounding at alphaBarPrev = 1; eta <= 1 keeps it non-negative.
        let direction = max(0, 1 - alphaBarPrev - sigma * sigma).squareRoot()
        let prev = StepArithmetic.combine(alphaBarPrev.squareRoot(), x0, direction, eps, sigma, z)
        return (prev, x0)
    }
}
