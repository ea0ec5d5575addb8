import Foundation
import Testing
@testable import Diffusion

@Suite struct SamplerDriverTests {
    static let imageShape = [32, 32, 1]
    static let specs: [SamplerSpec] = [
        .ddpm(skip: .recipe),
        .ddpmDiffusers(steps: 50, spacing: .trailing),
        .ddimDiffusers(steps: 40, eta: 1, spacing: .leading),
        .ddimRecipe(eta: 1, skip: .every10),
        .ddim(steps: 20, eta: 0.5, spacing: .quadratic),
    ]

    /// A toy analytic model: eps = 0.1 x.
    static func toyModel(_ x: Tensor, _ t: [Double]) -> Tensor {
        let eps = Tensor(shape: x.shape)
        for i in 0..<x.count { eps[i] = 0.1 * x[i] }
        return eps
    }

    /// Samples the global images `images` of a run with `seed`, as one rank's local batch.
    static func sample(_ spec: SamplerSpec, images: Range<Int>, seed: UInt64 = 7) throws -> Tensor {
        var streams = Sampling.streams(seed: seed, images: images)
        let xT = Sampling.initialNoise(imageShape: imageShape, streams: &streams)
        return try Sampling.run(spec: spec, model: toyModel, noise: xT, streams: &streams).images
    }

    @Test("keyed noise: 5 images in one batch equal batches [0,1] and [2,3,4]", arguments: specs)
    func keyedNoise(spec: SamplerSpec) throws {
        let whole = try Self.sample(spec, images: 0..<5)
        let parts = try [Self.sample(spec, images: 0..<2), Self.sample(spec, images: 2..<5)]
        #expect(whole.shape == [5] + Self.imageShape)
        #expect(whole.array == parts[0].array + parts[1].array, "\(spec)")
        #expect(whole.array.allSatisfy { $0.isFinite })
        let otherSeed = try Self.sample(spec, images: 0..<5, seed: 8)
        #expect(otherSeed.array != whole.array, "\(spec): the seed must matter")
    }

    /// With the true eps for one fixed x0, eps = (x_t - sqrt(abar_t) x0)/sqrt(1 - abar_t),
    /// deterministic DDIM keeps eps constant along the path, so every x0 estimate is x0 and
    /// the samplers that end at alphaBar = 1 return x0 itself.
    @Test("DDIM eta = 0 with the true-eps model recovers x0",
          arguments: [SamplerSpec.ddim(steps: 50, eta: 0, spacing: .uniform), .ddim(steps: 20, eta: 0, spacing: .quadratic),
                      .ddim(steps: 1, eta: 0, spacing: .uniform), .ddimDiffusers(steps: 366, eta: 0, spacing: .leading),
                      .ddimDiffusers(steps: 10, eta: 0, spacing: .trailing), .ddimRecipe(eta: 0, skip: .every10)])
    func closedForm(spec: SamplerSpec) throws {
        let schedule = NoiseSchedule.recipe
        let count = 2 * 32 * 32
        let x0 = Tensor(shape: [2] + Self.imageShape, values: (0..<count).map { Float(sin(Double($0) * 0.37)) * 0.5 })
        let model: DenoisingModel = { x, t in
            let eps = Tensor(shape: x.shape)
            let perImage = x.count / t.count
            for i in 0..<x.count {
                let abar = schedule.alphasCumprod[Int(t[i / perImage])]
                eps[i] = Float((Double(x[i]) - abar.squareRoot() * Double(x0[i])) / (1 - abar).squareRoot())
            }
            return eps
        }
        var streams = Sampling.streams(seed: 3, images: 0..<2)
        let xT = Sampling.initialNoise(imageShape: Self.imageShape, streams: &streams)
        var worstX0 = 0.0
        let result = try Sampling.run(spec: spec, model: model, noise: xT, streams: &streams) { _, _, x0Prediction in
            for i in 0..<count { worstX0 = max(worstX0, abs(Double(x0Prediction[i] - x0[i]))) }
        }
        // At t = 999 the Float32 rounding of eps (|eps| up to ~4) is amplified by
        // sqrt((1 - abar)/abar) = 12.6 in the x0 estimate: ~6e-6 per rounding.
        #expect(worstX0 <= 3e-5, "\(spec): x0 estimates off by \(worstX0)")
        if case .ddimRecipe = spec {
            // ends at alphaBar_0: x_0 = sqrt(abar_0) x0 + sqrt(1 - abar_0) eps_T
            let abar0 = schedule.alphasCumprod[0], abarT = schedule.alphasCumprod[999]
            let expected = (0..<count).map { i -> Double in
                let epsT = (Double(xT[i]) - abarT.squareRoot() * Double(x0[i])) / (1 - abarT).squareRoot()
                return abar0.squareRoot() * Double(x0[i]) + (1 - abar0).squareRoot() * epsT
            }
            expectClose(result.images.array, expected, tolerance: 1e-5, "\(spec) final sample")
        } else {
            expectClose(result.images.array, x0.array.map(Double.init), tolerance: 1e-5, "\(spec) final sample")
        }
    }

    @Test("model calls, evaluation counts and progress callbacks agree with the plan",
          arguments: specs + [.ddimRecipe(eta: 1, skip: .evaluate367), .ddim(steps: 50, eta: 0, spacing: .quadratic)])
    func countsAndProgress(spec: SamplerSpec) throws {
        var calls = 0
        var seenTimesteps: [Double] = []
        let model: DenoisingModel = { x, t in
            calls += 1
            #expect(Set(t).count == 1 && t.count == 3)
            seenTimesteps.append(t[0])
            return Self.toyModel(x, t)
        }
        var streams = Sampling.streams(seed: 1, images: 10..<13)
        let xT = Sampling.initialNoise(imageShape: [4, 4, 2], streams: &streams)
        var progress: [Int] = []
        var total = 0
        let result = try Sampling.run(spec: spec, model: model, noise: xT, streams: &streams) { i, n, x0 in
            progress.append(i); total = n
            #expect(x0.shape == xT.shape)
        }
        let sampler = try spec.makeSampler()
        let planned = try Sampling.plannedModelEvaluations(spec: spec)
        #expect(result.modelEvaluations == planned && calls == planned)
        #expect(progress == Array(0..<sampler.timesteps.count) && total == sampler.timesteps.count)
        let evaluatedTimesteps = zip(sampler.timesteps, sampler.modelEvaluationMask).filter { $0.1 }.map { Double($0.0) }
        #expect(seenTimesteps == evaluatedTimesteps)
        #expect(result.images.shape == xT.shape)
    }

    @Test("driver errors: stream count, model output shape; an empty batch skips the model")
    func driverErrors() throws {
        var two = Sampling.streams(seed: 1, images: 0..<2)
        let xT = Sampling.initialNoise(imageShape: [4, 4, 1], streams: &two)
        var one = Sampling.streams(seed: 1, images: 0..<1)
        #expect(throws: SamplingError.streamCount(images: 2, streams: 1)) {
            try Sampling.run(spec: .ddpm(skip: .recipe), model: Self.toyModel, noise: xT, streams: &one)
        }
        #expect(throws: SamplingError.modelOutputShape(t: 999, expected: [2, 4, 4, 1], got: [2, 4, 4, 2])) {
            try Sampling.run(spec: .ddpm(skip: .recipe), model: { x, _ in Tensor(shape: [2, 4, 4, 2]) },
                             noise: xT, streams: &two)
        }
        var none: [RandomStream] = []
        var called = false
        let empty = try Sampling.run(spec: .ddim(steps: 10, eta: 0, spacing: .uniform),
                                     model: { x, _ in called = true; return x },
                                     noise: Tensor(shape: [0, 4, 4, 1]), streams: &none)
        #expect(!called && empty.modelEvaluations == 0 && empty.images.shape == [0, 4, 4, 1])
    }

    @Test("planned evaluations per spec: 366, 366, 366, 367, 145, 50, 49")
    func plannedEvaluations() throws {
        let expected: [(SamplerSpec, Int)] = [
            (.ddpm(skip: .recipe), 366),
            (.ddpmDiffusers(steps: 366, spacing: .leading), 366),
            (.ddimDiffusers(steps: 366, eta: 0, spacing: .leading), 366),
            (.ddimRecipe(eta: 1, skip: .evaluate367), 367),
            (.ddimRecipe(eta: 1, skip: .every10), 145),
            (.ddim(steps: 50, eta: 0, spacing: .uniform), 50),
            (.ddim(steps: 50, eta: 0, spacing: .quadratic), 49),  // tau = 0 appears twice; see DDIMSpacing
        ]
        for (spec, count) in expected {
            #expect(try Sampling.plannedModelEvaluations(spec: spec) == count, "\(spec)")
        }
    }

    /// For data x0 ~ N(0, s²) per element the best eps predictor is linear,
    /// eps = g_t x_t with g_t = sqrt(1 - abar_t) / (abar_t s² + 1 - abar_t), so every step is
    /// x' = k x + sigma z and the output variance follows var' = k² var + sigma² from var_T = 1.
    /// Big strides lose variance (Cauchy-Schwarz: k² v_t <= v_t'), so the prediction, not s², is
    /// the reference. Samplers that reuse eps are only compared with s². 4096 samples: ~2% noise.
    @Test("Gaussian data with the optimal eps: output variance follows the linear-Gaussian recurrence",
          arguments: [SamplerSpec.ddpm(skip: .everyStep), .ddpm(skip: .recipe), .ddpmDiffusers(steps: 100, spacing: .leading),
                      .ddimDiffusers(steps: 50, eta: 1, spacing: .trailing), .ddimDiffusers(steps: 366, eta: 0, spacing: .leading),
                      .ddimRecipe(eta: 1, skip: .everyStep), .ddimRecipe(eta: 1, skip: .every10),
                      .ddim(steps: 50, eta: 0, spacing: .uniform), .ddim(steps: 20, eta: 1, spacing: .quadratic),
                      .dpmSolver(steps: 20, config: .init()), .dpmSolver(steps: 15, config: .init(algorithm: .sdeDPMSolverPlusPlus, solverOrder: 3)),
                      .eulerAncestral(steps: 25, spacing: .linspace)])
    func gaussianData(spec: SamplerSpec) throws {
        let schedule = NoiseSchedule.recipe, abar = schedule.alphasCumprod
        let dataVariance = 0.09
        func gain(_ t: Int) -> Double { (1 - abar[t]).squareRoot() / (abar[t] * dataVariance + 1 - abar[t]) }
        // Between integer timesteps (Euler's linspace), the noise level the sampler uses there:
        // sigma interpolated in diffusers' table, alphaBar = 1 / (1 + sigma^2).
        let table = DiffusersSigmas.table(schedule)
        func gain(fractional t: Double) -> Double {
            if t == t.rounded() { return gain(Int(t)) }
            let sigma = DiffusersSigmas.interpolate(table, at: t), a = 1 / (1 + sigma * sigma)
            return (1 - a).squareRoot() / (a * dataVariance + 1 - a)
        }
        let model: DenoisingModel = { x, t in
            let g = gain(fractional: t[0])
            let eps = Tensor(shape: x.shape)
            for i in 0..<x.count { eps[i] = Float(g * Double(x[i])) }
            return eps
        }
        var streams = Sampling.streams(seed: 11, images: 0..<4)
        let xT = Sampling.initialNoise(imageShape: Self.imageShape, streams: &streams)
        let images = try Sampling.run(spec: spec, model: model, noise: xT, streams: &streams).images.array.map(Double.init)
        let mean = images.reduce(0, +) / Double(images.count)
        let variance = images.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(images.count - 1)
        #expect(abs(mean) < 0.03, "\(spec): mean \(mean)")

        // The DDIM form (eq. 12) with x0 and eps from g: k = sqrt(a')(1 - sqrt(1-a) g)/sqrt(a) + sqrt(1 - a' - sigma²) g.
        // DDPM's posterior step is the same with sigma² = its variance (DDIM paper, eta = 1).
        func ddimFactor(_ t: Int, _ alphaBarPrev: Double, _ sigma2: Double) -> Double {
            let a = abar[t], g = gain(t)
            return alphaBarPrev.squareRoot() * (1 - (1 - a).squareRoot() * g) / a.squareRoot()
                + max(0, 1 - alphaBarPrev - sigma2).squareRoot() * g
        }
        func ddimSigma2(_ eta: Double, _ t: Int, _ alphaBarPrev: Double) -> Double {
            eta * eta * (1 - alphaBarPrev) / (1 - abar[t]) * (1 - abar[t] / alphaBarPrev)
        }
        let sampler = try spec.makeSampler(schedule: schedule)
        var predicted: Double? = 1
        // The exact probability-flow ODE scales x_t by sqrt(V_t'/V_t), V_t = alphaBar_t s² + 1 - alphaBar_t;
        // the final step (sigma 0) returns x0 = sqrt(alphaBar) s²/V · x (the posterior mean).
        func odeThenPosteriorMean(lastTimestep t: Int) -> Double {
            let v = abar[t] * dataVariance + 1 - abar[t], vT = abar[999] * dataVariance + 1 - abar[999]
            return dataVariance * (abar[t] * dataVariance / v) / vT
        }
        for (i, t) in sampler.timesteps.enumerated() {
            let next = i + 1 < sampler.timesteps.count ? sampler.timesteps[i + 1] : -1
            let (k, sigma2): (Double, Double)
            switch spec {
            case .ddpm(let skip):
                if skip != .everyStep { predicted = nil; break }
                let alpha = schedule.alphas[t], beta = schedule.betas[t]  // recipe: x0'/sqrt(a) + sqrt(beta) z
                (k, sigma2) = ((1 - (1 - alpha) / (1 - abar[t]).squareRoot() * gain(t)) / alpha.squareRoot(), beta)
                predicted = predicted.map { k * k * $0 + sigma2 }
            case .ddpmDiffusers:
                let alphaBarPrev = next >= 0 ? abar[next] : 1
                let s2 = t > 0 ? ddimSigma2(1, t, alphaBarPrev) : 0
                (k, sigma2) = (ddimFactor(t, alphaBarPrev, ddimSigma2(1, t, alphaBarPrev)), s2)
                predicted = predicted.map { k * k * $0 + sigma2 }
            case let .ddimDiffusers(steps, eta, _):
                let prev = t - 1000 / steps, alphaBarPrev = prev >= 0 ? abar[prev] : 1
                sigma2 = ddimSigma2(eta, t, alphaBarPrev)
                predicted = predicted.map { ddimFactor(t, alphaBarPrev, sigma2) * ddimFactor(t, alphaBarPrev, sigma2) * $0 + sigma2 }
            case let .ddimRecipe(eta, skip):
                if skip != .everyStep { predicted = nil; break }
                sigma2 = ddimSigma2(eta, t, abar[t - 1])
                predicted = predicted.map { ddimFactor(t, abar[t - 1], sigma2) * ddimFactor(t, abar[t - 1], sigma2) * $0 + sigma2 }
            case let .ddim(_, eta, _):
                let alphaBarPrev = next >= 0 ? abar[next] : 1
                sigma2 = ddimSigma2(eta, t, alphaBarPrev)
                predicted = predicted.map { ddimFactor(t, alphaBarPrev, sigma2) * ddimFactor(t, alphaBarPrev, sigma2) * $0 + sigma2 }
            case .dpmSolver:  // accurate enough at 15-20 steps to follow the exact ODE / SDE marginals
                if i == 0 { predicted = odeThenPosteriorMean(lastTimestep: sampler.timesteps.last!) }
            case .eulerAncestral:
                // VE form (x~ = x0 + sigma n, eps = sigma x~/(s² + sigma²)), started at sigma_0 · noise:
                // x~' = (1 + sigma (sigma_down - sigma)/(s² + sigma²)) x~ + sigma_up z.
                let euler = sampler as! EulerAncestralScheduler
                let sigma = Double(euler.sigmas[i]), next = Double(euler.sigmas[i + 1])
                let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
                let down = (next * next - up * up).squareRoot()
                let k = 1 + sigma * (down - sigma) / (dataVariance + sigma * sigma)
                predicted = (i == 0 ? sigma * sigma : predicted!) * k * k + up * up
            }
        }
        let reference = predicted ?? dataVariance
        #expect(abs(variance / reference - 1) < 0.08,
                "\(spec): variance \(variance), predicted \(String(describing: predicted)), data variance \(dataVariance)")
    }
}
