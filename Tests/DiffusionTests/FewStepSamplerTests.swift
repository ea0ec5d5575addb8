import Foundation
import Testing
@testable import Diffusion

/// diffusers 0.42.1's DPMSolverMultistepScheduler and EulerAncestralDiscreteScheduler from
/// fewstep_vectors.json (made by Tests/Fixtures/make_fewstep_vectors.py): the same fake model
/// and the same noise, every step's sample and x0 estimate to 1e-5.
@Suite struct FewStepSamplerTests {
    static var vectors: [String: Any] { ReferenceFixture.fewStepVectors }
    static var dpmCases: [Int] { Array(0..<(vectors["dpm"] as? [Any] ?? []).count) }
    static var eulerCases: [Int] { Array(0..<(vectors["euler_ancestral"] as? [Any] ?? []).count) }

    var xT: Tensor { fixtureTensor(numbers(Self.vectors["x_T"])) }
    func noise(_ i: Int) -> Tensor { fixtureTensor(numbers((Self.vectors["noise"] as? [Any] ?? [])[i])) }

    /// The fixture's model: eps(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x.
    static func fakeModel(_ x: Tensor, _ t: Double) -> Tensor {
        let out = Tensor(shape: x.shape)
        let c = Foundation.cos(0.003 * Double(Float(t)))
        for i in 0..<x.count {
            let v = Double(x[i])
            out[i] = Float(0.8 * Foundation.tanh(v) * c + 0.05 * v)
        }
        return out
    }

    func entry(_ key: String, _ index: Int) -> [String: Any] {
        dict((Self.vectors[key] as? [Any] ?? [])[index], "\(key)[\(index)]")
    }

    func checkSchedule(_ config: [String: Any]) {
        #expect(number(config["num_train_timesteps"]) == 1000 && number(config["beta_start"]) == 1e-4
                && number(config["beta_end"]) == 0.01 && config["beta_schedule"] as? String == "linear")
    }

    @Test("DPMSolverMultistepScheduler: timesteps, sigmas, every step", arguments: dpmCases)
    func dpmSolver(index: Int) throws {
        let e = entry("dpm", index)
        let c = dict(e["config"])
        checkSchedule(c)
        let config = DPMSolverMultistepScheduler.Config(
            algorithm: DPMSolverMultistepScheduler.Algorithm(rawValue: c["algorithm_type"] as? String ?? "")!,
            solverOrder: Int(number(c["solver_order"])), lowerOrderFinal: bool(c["lower_order_final"]),
            timestepSpacing: TimestepSpacing(rawValue: c["timestep_spacing"] as? String ?? "")!,
            useKarrasSigmas: bool(c["use_karras_sigmas"]))
        let what = "\(config.algorithm.rawValue) order \(config.solverOrder) \(config.timestepSpacing.rawValue)"
            + (config.useKarrasSigmas ? " karras" : "") + (config.lowerOrderFinal ? "" : " no-lower-order-final")
            + " \(Int(number(e["steps"]))) steps"
        let sampler = try DPMSolverMultistepScheduler(config: config, steps: Int(number(e["steps"])))
        #expect(sampler.timesteps == integers(e["timesteps"]), "\(what) timesteps")
        expectClose(sampler.sigmas, numbers(e["sigmas"]), tolerance: 1e-6, "\(what) sigmas")

        let expectedSamples = (e["prev_sample"] as? [Any] ?? []).map(numbers)
        let expectedX0 = (e["x0"] as? [Any] ?? []).map(numbers)
        #expect(expectedSamples.count == sampler.timesteps.count)
        var x = sampler.initialSample(noise: xT)
        var memory = SamplerMemory()
        for i in sampler.timesteps.indices {
            let eps = Self.fakeModel(x, sampler.modelTimestep(at: i))
            let z: Tensor? = sampler.drawsNoise(at: sampler.timesteps[i]) ? noise(i) : nil
            let out = sampler.step(index: i, eps: eps, x: x, noise: z, memory: &memory)
            expectClose(out.predOriginal.array, expectedX0[i], "\(what) step \(i) x0")
            expectClose(out.prevSample.array, expectedSamples[i], "\(what) step \(i) prev_sample")
            x = out.prevSample
        }
    }

    @Test("EulerAncestralDiscreteScheduler: timesteps, sigmas, init_noise_sigma, every step", arguments: eulerCases)
    func eulerAncestral(index: Int) throws {
        let e = entry("euler_ancestral", index)
        let c = dict(e["config"])
        checkSchedule(c)
        let spacing = TimestepSpacing(rawValue: c["timestep_spacing"] as? String ?? "")!
        let what = "euler-ancestral \(spacing.rawValue) \(Int(number(e["steps"]))) steps"
        let sampler = try EulerAncestralScheduler(timestepSpacing: spacing, steps: Int(number(e["steps"])))
        // JSONSerialization may parse a decimal a few ulps off: compare to 1e-12.
        expectClose(sampler.modelTimesteps, numbers(e["timesteps"]), tolerance: 1e-12, "\(what) timesteps")
        expectClose(sampler.sigmas, numbers(e["sigmas"]), tolerance: 1e-6, "\(what) sigmas")
        expectClose(sampler.initNoiseSigma, number(e["init_noise_sigma"]), relative: 1e-7, "\(what) init_noise_sigma")

        let expectedSamples = (e["prev_sample"] as? [Any] ?? []).map(numbers)
        let expectedX0 = (e["x0"] as? [Any] ?? []).map(numbers)
        #expect(expectedSamples.count == sampler.timesteps.count)
        var x = sampler.initialSample(noise: xT)
        expectClose(sampler.veSample(x, beforeStep: 0).array, xT.array.map { Double($0) * sampler.initNoiseSigma },
                    "\(what) x_T · init_noise_sigma")
        var memory = SamplerMemory()
        for i in sampler.timesteps.indices {
            #expect(sampler.drawsNoise(at: sampler.timesteps[i]))
            let eps = Self.fakeModel(x, sampler.modelTimestep(at: i))
            let out = sampler.step(index: i, eps: eps, x: x, noise: noise(i), memory: &memory)
            expectClose(out.predOriginal.array, expectedX0[i], "\(what) step \(i) x0")
            expectClose(sampler.veSample(out.prevSample, beforeStep: i + 1).array, expectedSamples[i], "\(what) step \(i) prev_sample")
            x = out.prevSample
        }
    }

    @Test("DPM-Solver order schedule: 1, 2, ..., solver order; last steps lower below 15 steps")
    func orderSchedule() throws {
        func orders(_ order: Int, steps: Int, lowerOrderFinal: Bool = true) throws -> [Int] {
            let s = try DPMSolverMultistepScheduler(config: .init(solverOrder: order, lowerOrderFinal: lowerOrderFinal), steps: steps)
            return s.timesteps.indices.map { s.order(atStep: $0, previous: min($0, order)) }
        }
        #expect(try orders(3, steps: 6) == [1, 2, 3, 3, 2, 1])
        #expect(try orders(3, steps: 6, lowerOrderFinal: false) == [1, 2, 3, 3, 3, 1])
        #expect(try orders(3, steps: 16) == [1, 2] + [Int](repeating: 3, count: 13) + [1])
        #expect(try orders(2, steps: 4) == [1, 2, 2, 1])
        #expect(try orders(1, steps: 3) == [1, 1, 1])
    }

    @Test("DPM-Solver++ order 1 is DDIM eta 0 between the same noise levels")
    func firstOrderIsDDIM() throws {
        let dpm = try DPMSolverMultistepScheduler(config: .init(solverOrder: 1), steps: 10)
        let abar = NoiseSchedule.recipe.alphasCumprod
        let eps = Self.fakeModel(xT, 500)
        var memory = SamplerMemory()
        let i = 3, t = dpm.timesteps[3], next = dpm.timesteps[4]
        let out = dpm.step(index: i, eps: eps, x: xT, noise: nil, memory: &memory)
        let ddim = DDIMUpdate.step(eps: eps, x: xT, alphaBar: abar[t], alphaBarPrev: abar[next], sigma: 0, clip: nil, noise: nil)
        // The sigmas are Float32 copies of the schedule's, so the two agree to Float32 rounding.
        expectClose(out.prevSample.array, ddim.prevSample.array.map(Double.init), tolerance: 2e-6, "order 1 vs DDIM")
    }

    @Test("sampler specs: names, defaults, options refused where they do not apply")
    func specs() throws {
        #expect(try SamplerSpec.parse(.dpmSolverPlusPlus) == .dpmSolver(steps: 20, config: .init()))
        #expect(try SamplerSpec.parse(.eulerAncestral, steps: 15) == .eulerAncestral(steps: 15, spacing: .linspace))
        let sde = try SamplerSpec.parse(.sdeDPMSolverPlusPlus, steps: 10, solver: .init(order: 3, karras: true, lowerOrderFinal: false))
        #expect(sde == .dpmSolver(steps: 10, config: .init(algorithm: .sdeDPMSolverPlusPlus, solverOrder: 3, lowerOrderFinal: false,
                                                            useKarrasSigmas: true)))
        #expect(try SamplerSpec.parse(.dpmSolverPlusPlus, steps: 25).makeSampler().plannedModelEvaluations == 25)
        #expect(throws: SamplingError.invalidOrder(sampler: "dpmsolver++", order: 4)) {
            try SamplerSpec.parse(.dpmSolverPlusPlus, solver: .init(order: 4))
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "order", sampler: "ddim", usedBy: ["dpmsolver++", "sde-dpmsolver++"])) {
            try SamplerSpec.parse(.ddim, solver: .init(order: 2))
        }
        #expect(throws: SamplingError.self) { try SamplerSpec.parse(.eulerAncestral, eta: 0.5) }
        #expect(throws: SamplingError.self) { try SamplerSpec.parse(.dpmSolverPlusPlus, spacing: .leading, solver: .init(karras: true)) }
        #expect(throws: SamplingError.invalidSteps(sampler: "DPMSolverMultistepScheduler (dpmsolver++)", steps: 1000, allowed: 1...999)) {
            try SamplerSpec.parse(.dpmSolverPlusPlus, steps: 1000)
        }
    }
}
