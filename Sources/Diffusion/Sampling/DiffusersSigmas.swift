import Foundation

/// The noise levels diffusers' k-diffusion-style schedulers (DPMSolverMultistepScheduler,
/// EulerAncestralDiscreteScheduler) work in: a VP sample x_t = alpha_t x0 + sigma^VP_t eps
/// rewritten as x_t / alpha_t = x0 + sigma_t eps with
///
///     sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t)        (Karras et al. 2022, Table 1, VP)
///     alpha_t = 1 / sqrt(sigma_t^2 + 1),   sigma^VP_t = sigma_t alpha_t
///
/// Values follow diffusers' arithmetic: the table in Float32 from the Float32 alphas_cumprod
/// (torch ops), interpolation and the Karras ramp in Float64 (numpy), stored as Float32.
enum DiffusersSigmas {
    /// sigma_t for t = 0..<T, ascending.
    static func table(_ schedule: NoiseSchedule) -> [Float] {
        schedule.alphasCumprod.map { abar64 in
            let alphaBar = Float(abar64)
            return ((1 - alphaBar) / alphaBar).squareRoot()
        }
    }

    /// numpy.interp of `table` (at t = 0, 1, ...) at a timestep in [0, T-1].
    static func interpolate(_ table: [Float], at t: Double) -> Double {
        let j = min(max(Int(t.rounded(.down)), 0), table.count - 1)
        guard j + 1 < table.count, t > Double(j) else { return Double(table[j]) }
        let slope = Double(table[j + 1]) - Double(table[j])  // per unit timestep
        return slope * (t - Double(j)) + Double(table[j])
    }

    /// `count` noise levels from sigmaMax down to sigmaMin, evenly spaced in sigma^(1/rho)
    /// with rho = 7 (Karras et al. 2022, eq. 5; diffusers' `_convert_to_karras`).
    static func karras(sigmaMin: Double, sigmaMax: Double, count n: Int) -> [Double] {
        let rho = 7.0
        let minInvRho = Foundation.pow(sigmaMin, 1 / rho), maxInvRho = Foundation.pow(sigmaMax, 1 / rho)
        return (0..<n).map { i in
            let ramp = n > 1 ? (i == n - 1 ? 1 : Double(i) * (1 / Double(n - 1))) : 0  // numpy.linspace(0, 1, n)
            return Foundation.pow(maxInvRho + ramp * (minInvRho - maxInvRho), rho)
        }
    }

    /// The fractional timestep of a noise level: linear interpolation of log sigma between
    /// the two table entries around it, clamped to [0, T-1] (diffusers' `_sigma_to_t`).
    static func timestep(sigma: Double, table: [Float]) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        let logSigmas = table.map { Double(Foundation.log($0)) }  // numpy's log of the Float32 table
        // The last t with log sigma_t <= logSigma (0 if none), at most T-2.
        var low = 0
        for (t, l) in logSigmas.enumerated() where logSigma - l >= 0 { low = t }
        low = min(low, logSigmas.count - 2)
        let w = min(max((logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[low + 1]), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    /// alpha_t and sigma^VP_t of a noise level (diffusers' `_sigma_to_alpha_sigma_t`).
    static func alphaSigma(_ sigma: Double) -> (alpha: Double, sigma: Double) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }
}
