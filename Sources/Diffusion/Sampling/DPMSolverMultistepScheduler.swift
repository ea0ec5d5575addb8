// diffusers' DPMSolverMultistepScheduler.step (0.42.1), dpmsolver++ and sde-dpmsolver++: `--sampler dpmsolver++`, `sde-dpmsolver++`.

import Foundation

/// diffusers' `DPMSolverMultistepScheduler` for an epsilon-predicting model, `algorithm_type`
/// "dpmsolver++" or "sde-dpmsolver++", `solver_type` "midpoint", `final_sigmas_type` "zero"
/// (Lu et al. 2022, "DPM-Solver++", Algorithm 2 and eq. 9; the SDE form from their
/// Appendix; coefficients as in diffusers' `multistep_dpm_solver_*_update`).
///
/// Each step i goes from noise level s = sigmas[i] to t = sigmas[i+1] (`DiffusersSigmas`),
/// with lambda = log(alpha) - log(sigma^VP) and h = lambda_t - lambda_s. The model's eps is
/// turned into the clean-image estimate D0 = x0 = (x - sigma^VP_s eps) / alpha_s, and the
/// earlier estimates m1, m2 (steps i-1, i-2, with h_0 = lambda_s - lambda_{s1},
/// h_1 = lambda_{s1} - lambda_{s2}, r0 = h_0/h, r1 = h_1/h) give the differences
///
///     order 2: D1 = (m0 - m1) / r0
///     order 3: D1_0 = (m0 - m1)/r0, D1_1 = (m1 - m2)/r1,
///              D1 = D1_0 + r0/(r0 + r1) (D1_0 - D1_1),  D2 = (D1_0 - D1_1)/(r0 + r1)
///
/// dpmsolver++ (ODE), phi = e^{-h} - 1:
///
///     x_t = (sigma^VP_t / sigma^VP_s) x - alpha_t phi D0 - 1/2 alpha_t phi D1            (order <= 2)
///     x_t = (sigma^VP_t / sigma^VP_s) x - alpha_t phi D0 + alpha_t (phi/h + 1) D1
///           - alpha_t ((phi + h)/h^2 - 1/2) D2                                          (order 3)
///
/// sde-dpmsolver++, psi = 1 - e^{-2h}, z standard normal:
///
///     x_t = (sigma^VP_t / sigma^VP_s) e^{-h} x + alpha_t psi D0 + 1/2 alpha_t psi D1
///           + sigma^VP_t sqrt(psi) z                                                   (order <= 2)
///     x_t = ... + alpha_t (psi/(-2h) + 1) D1 + alpha_t ((psi - 2h)/(2h)^2 - 1/2) D2     (order 3)
///
/// Order 1 drops D1 (DDIM for the ODE). The order used at step i is 1 at the first step,
/// then grows to `solverOrder`; with `lowerOrderFinal` and fewer than 15 steps the last two
/// steps fall back to orders 1 and 2, and the last step is always order 1 (it lands on
/// sigma = 0, where x_t = D0). Coefficients are computed in Float64 from diffusers' Float32
/// sigmas.
public struct DPMSolverMultistepScheduler: DiffusionSampler {
    public enum Algorithm: String, Sendable, CaseIterable {
        case dpmSolverPlusPlus = "dpmsolver++"
        case sdeDPMSolverPlusPlus = "sde-dpmsolver++"
    }

    public struct Config: Sendable, Equatable {
        public var algorithm: Algorithm
        /// `solver_order`, 1...3.
        public var solverOrder: Int
        /// `lower_order_final`.
        public var lowerOrderFinal: Bool
        /// `timestep_spacing` (diffusers' default for this scheduler: linspace).
        public var timestepSpacing: TimestepSpacing
        /// `use_karras_sigmas`.
        public var useKarrasSigmas: Bool
        /// `steps_offset` (leading spacing only).
        public var stepsOffset: Int

        public init(algorithm: Algorithm = .dpmSolverPlusPlus, solverOrder: Int = 2, lowerOrderFinal: Bool = true,
                    timestepSpacing: TimestepSpacing = .linspace, useKarrasSigmas: Bool = false, stepsOffset: Int = 0) {
            self.algorithm = algorithm; self.solverOrder = solverOrder; self.lowerOrderFinal = lowerOrderFinal
            self.timestepSpacing = timestepSpacing; self.useKarrasSigmas = useKarrasSigmas; self.stepsOffset = stepsOffset
        }
    }

    public let schedule: NoiseSchedule
    public let config: Config
    public let timesteps: [Int]
    /// The noise level of each step and, last, 0 (Float32 as diffusers stores them).
    public let sigmas: [Float]

    /// `set_timesteps(steps)`: steps in 1...T-1 (the spacings place steps + 1 points).
    public init(schedule: NoiseSchedule = .recipe, config: Config = .init(), steps n: Int) throws {
        let name = "DPMSolverMultistepScheduler (\(config.algorithm.rawValue))"
        let T = schedule.count
        guard (1...3).contains(config.solverOrder) else {
            throw SamplingError.invalidOrder(sampler: name, order: config.solverOrder)
        }
        guard (1...max(T - 1, 1)).contains(n) else {
            throw SamplingError.invalidSteps(sampler: name, steps: n, allowed: 1...max(T - 1, 1))
        }
        let table = DiffusersSigmas.table(schedule)
        var stepSigmas: [Double]
        var steps: [Int]
        if config.useKarrasSigmas {
            stepSigmas = DiffusersSigmas.karras(sigmaMin: Double(table[0]), sigmaMax: Double(table[T - 1]), count: n)
            steps = stepSigmas.map { Int(DiffusersSigmas.timestep(sigma: $0, table: table).rounded(.toNearestOrEven)) }
        } else {
            steps = try Self.spacedTimesteps(config.timestepSpacing, steps: n, trainSteps: T, stepsOffset: config.stepsOffset)
            stepSigmas = steps.map { Double(table[$0]) }
        }
        self.schedule = schedule
        self.config = config
        self.timesteps = steps
        self.sigmas = stepSigmas.map(Float.init) + [0]
    }

    /// The timesteps of `set_timesteps(n)` without Karras sigmas: linspace and leading place
    /// n + 1 points (as diffusers' DDPM/DDIM spacings would for n + 1 steps) and drop the last
    /// (t = 0, plus steps_offset); trailing is the DDPM/DDIM one.
    static func spacedTimesteps(_ spacing: TimestepSpacing, steps n: Int, trainSteps T: Int, stepsOffset: Int) throws -> [Int] {
        switch spacing {
        case .linspace:
            return Array(try spacing.timesteps(inferenceSteps: n + 1, trainSteps: T).dropLast())
        case .leading:
            return Array(try spacing.timesteps(inferenceSteps: n + 1, trainSteps: T, stepsOffset: stepsOffset).dropLast())
        case .trailing:
            return try spacing.timesteps(inferenceSteps: n, trainSteps: T)
        }
    }

    public func drawsNoise(at t: Int) -> Bool { config.algorithm == .sdeDPMSolverPlusPlus }

    /// The solver order step i uses after `previous` earlier steps (diffusers' `step` logic).
    public func order(atStep i: Int, previous: Int) -> Int {
        let n = timesteps.count
        let lowerOrderFinal = i == n - 1  // final_sigmas_type "zero": always first order
        let lowerOrderSecond = i == n - 2 && config.lowerOrderFinal && n < 15
        if config.solverOrder == 1 || previous < 1 || lowerOrderFinal { return 1 }
        if config.solverOrder == 2 || previous < 2 || lowerOrderSecond { return 2 }
        return 3
    }

    /// lambda of a noise level: log alpha - log sigma^VP (+inf at sigma = 0).
    static func lambda(_ sigma: Float) -> Double {
        let (alpha, sigmaVP) = DiffusersSigmas.alphaSigma(Double(sigma))
        return Foundation.log(alpha) - Foundation.log(sigmaVP)
    }

    /// diffusers' `convert_model_output`: x0 = (x - sigma^VP_s eps) / alpha_s at step i.
    public func predictX0(eps: Tensor, x: Tensor, index i: Int) -> Tensor {
        let (alpha, sigmaVP) = DiffusersSigmas.alphaSigma(Double(sigmas[i]))
        return StepArithmetic.combine(1 / alpha, x, -sigmaVP / alpha, eps)
    }

    public func step(index i: Int, eps: Tensor, x: Tensor, noise: Tensor?, memory: inout SamplerMemory)
        -> (prevSample: Tensor, predOriginal: Tensor) {
        let x0 = predictX0(eps: eps, x: x, index: i)
        let order = self.order(atStep: i, previous: memory.lowerOrderNums)
        memory.x0History.append(x0)
        if memory.x0History.count > config.solverOrder { memory.x0History.removeFirst() }
        memory.lowerOrderNums = min(memory.lowerOrderNums + 1, config.solverOrder)
        let prev = update(order: order, index: i, x: x, history: memory.x0History, noise: noise)
        return (prev, x0)
    }

    /// The update of the table above from step i's sample with the newest estimates last in
    /// `history` (at least `order` of them).
    func update(order: Int, index i: Int, x: Tensor, history: [Tensor], noise: Tensor?) -> Tensor {
        let (alphaT, sigmaT) = DiffusersSigmas.alphaSigma(Double(sigmas[i + 1]))
        let sigmaS0 = DiffusersSigmas.alphaSigma(Double(sigmas[i])).sigma
        let lambdaT = Self.lambda(sigmas[i + 1]), lambdaS0 = Self.lambda(sigmas[i])
        let h = lambdaT - lambdaS0
        let m0 = history[history.count - 1]
        let sde = config.algorithm == .sdeDPMSolverPlusPlus
        // Terms sum_k c_k v_k, accumulated elementwise in Float64.
        var terms: [(Double, Tensor)] = []
        let expMinusH = Foundation.exp(-h)
        let phi = expMinusH - 1                       // e^{-h} - 1
        let psi = 1 - Foundation.exp(-2 * h)          // 1 - e^{-2h}
        terms.append((sde ? sigmaT / sigmaS0 * expMinusH : sigmaT / sigmaS0, x))
        let d0Coefficient = sde ? alphaT * psi : -alphaT * phi
        switch order {
        case 1:
            terms.append((d0Coefficient, m0))
        case 2:
            let m1 = history[history.count - 2]
            let lambdaS1 = Self.lambda(sigmas[i - 1])
            let r0 = (lambdaS0 - lambdaS1) / h
            // D1 = (m0 - m1) / r0, coefficient 1/2 of D0's (midpoint)
            let c1 = 0.5 * d0Coefficient / r0
            terms.append((d0Coefficient + c1, m0))
            terms.append((-c1, m1))
        default:
            let m1 = history[history.count - 2], m2 = history[history.count - 3]
            let lambdaS1 = Self.lambda(sigmas[i - 1]), lambdaS2 = Self.lambda(sigmas[i - 2])
            let r0 = (lambdaS0 - lambdaS1) / h, r1 = (lambdaS1 - lambdaS2) / h
            let c1 = sde ? alphaT * (psi / (-2 * h) + 1) : alphaT * (phi / h + 1)
            let c2 = sde ? alphaT * ((psi - 2 * h) / ((2 * h) * (2 * h)) - 0.5) : -alphaT * ((phi + h) / (h * h) - 0.5)
            // D1_0 = (m0 - m1)/r0, D1_1 = (m1 - m2)/r1; D1 = D1_0 + r0/(r0+r1) (D1_0 - D1_1); D2 = (D1_0 - D1_1)/(r0+r1)
            let w = r0 / (r0 + r1)
            let d1 = (m0: (1 + w) / r0, m1: -(1 + w) / r0 - w / r1, m2: w / r1)
            let d2 = (m0: 1 / (r0 * (r0 + r1)), m1: (-1 / r0 - 1 / r1) / (r0 + r1), m2: 1 / (r1 * (r0 + r1)))
            terms.append((d0Coefficient + c1 * d1.m0 + c2 * d2.m0, m0))
            terms.append((c1 * d1.m1 + c2 * d2.m1, m1))
            terms.append((c1 * d1.m2 + c2 * d2.m2, m2))
        }
        if sde, let noise { terms.append((sigmaT * psi.squareRoot(), noise)) }
        return StepArithmetic.linearCombination(terms)
    }
}
