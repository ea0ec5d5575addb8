import Foundation
import Testing
@testable import Diffusion

extension ReferenceFixture {
    nonisolated(unsafe) static let predictionVectors: [String: Any] = try! load("prediction_vectors.json")
}

/// diffusers 0.42.1's schedulers with prediction_type v_prediction and sample, from
/// prediction_vectors.json (made by Tests/Fixtures/make_prediction_vectors.py): our samplers
/// stepping on the eps that `PredictionType.epsilonModel` makes of the same fake model's
/// output match every step's sample and x0 estimate to 1e-5, as the epsilon parity tests.
@Suite struct PredictionTypeTests {
    static var vectors: [String: Any] { ReferenceFixture.predictionVectors }
    static var cases: [Int] { Array(0..<(vectors["cases"] as? [Any] ?? []).count) }

    var xT: Tensor { fixtureTensor(numbers(Self.vectors["x_T"])) }
    func noise(_ i: Int) -> Tensor { fixtureTensor(numbers((Self.vectors["noise"] as? [Any] ?? [])[i])) }

    /// The fixture's sampler with its name for messages, and Euler's x~ scale for comparing samples.
    func sampler(_ e: [String: Any]) throws -> (any DiffusionSampler, String) {
        let c = dict(e["config"])
        #expect(number(c["num_train_timesteps"]) == 1000 && number(c["beta_start"]) == 1e-4
                && number(c["beta_end"]) == 0.01 && c["beta_schedule"] as? String == "linear")
        let steps = Int(number(e["steps"]))
        let name = "\(e["scheduler"] as? String ?? "") \(c["prediction_type"] as? String ?? "")"
        switch e["scheduler"] as? String {
        case "DDPMScheduler":
            var s = DDPMScheduler()
            try s.setTimesteps(steps)
            return (s, name)
        case "DDIMScheduler":
            var s = DDIMScheduler(eta: 0)
            try s.setTimesteps(steps)
            return (s, name)
        case "DPMSolverMultistepScheduler":
            let algorithm = DPMSolverMultistepScheduler.Algorithm(rawValue: c["algorithm_type"] as? String ?? "")!
            let karras = c["use_karras_sigmas"] as? Bool ?? false
            let s = try DPMSolverMultistepScheduler(config: .init(algorithm: algorithm, solverOrder: Int(number(c["solver_order"])),
                                                                  useKarrasSigmas: karras), steps: steps)
            return (s, name + " \(algorithm.rawValue)" + (karras ? " karras" : ""))
        default:
            return (try EulerAncestralScheduler(steps: steps), name + " \(steps) steps")
        }
    }

    @Test("every step of diffusers' scheduler for a v_prediction / sample model", arguments: cases)
    func parity(index: Int) throws {
        let e = dict((Self.vectors["cases"] as? [Any] ?? [])[index])
        let prediction = try #require(PredictionType(rawValue: dict(e["config"])["prediction_type"] as? String ?? ""))
        let (sampler, what) = try sampler(e)
        expectClose(sampler.timesteps.indices.map { Float(sampler.modelTimestep(at: $0)) }, numbers(e["timesteps"]),
                    tolerance: 1e-6, "\(what) timesteps")
        let model = prediction.epsilonModel({ x, t in FewStepSamplerTests.fakeModel(x, t[0]) }, sampler: sampler, schedule: .recipe)
        let steps = try run(sampler, model: model)
        let expected = zip((e["prev_sample"] as? [Any] ?? []).map(numbers), (e["x0"] as? [Any] ?? []).map(numbers))
        #expect(Array(expected).count == steps.count)
        for (i, ((sample, x0), (expectedSample, expectedX0))) in zip(steps, expected).enumerated() {
            expectClose(x0.array, expectedX0, "\(what) step \(i) x0")
            expectClose(sample.array, expectedSample, "\(what) step \(i) prev_sample")
        }
    }

    /// Every step's sample (Euler's as diffusers keeps it, x~) and x0 estimate from the
    /// fixture's x_T, with the fixture's noise at step i.
    func run(_ sampler: any DiffusionSampler, model: DenoisingModel) throws -> [(sample: Tensor, x0: Tensor)] {
        var x = sampler.initialSample(noise: xT), memory = SamplerMemory()
        return try sampler.timesteps.indices.map { i in
            let eps = try model(x, [Double](repeating: sampler.modelTimestep(at: i), count: 2))
            let z: Tensor? = sampler.drawsNoise(at: sampler.timesteps[i]) ? noise(i) : nil
            let out = sampler.step(index: i, eps: eps, x: x, noise: z, memory: &memory)
            x = out.prevSample
            return ((sampler as? EulerAncestralScheduler)?.veSample(x, beforeStep: i + 1) ?? x, out.predOriginal)
        }
    }

    @Test("the conversion: v and x0 of a known eps give it back; epsilon is the model itself")
    func conversion() throws {
        let x0 = fixtureTensor((0..<32).map { Foundation.sin(Double($0)) * 0.5 })
        let eps = fixtureTensor((0..<32).map { Foundation.cos(Double($0) * 1.3) })
        for t in [0, 1, 250, 999] {
            let abar = NoiseSchedule.recipe.alphasCumprod[t]
            let x = NoiseSchedule.recipe.qSample(x0: x0, eps: eps, t: [t, t])
            let v = TrainingTarget.targets(.vPrediction, x0: x0, eps: eps, t: [t, t], schedule: .recipe)
            // x0 from its eps divides by sqrt(1 - abar) = 0.01 at t = 0: Float32 x carries ~6e-8, so ~1e-5 there.
            expectClose(PredictionType.sample.epsilon(from: x0, x: x, alphaBar: abar).array, eps.array.map(Double.init),
                        tolerance: t == 0 ? 2e-5 : 1e-5, "sample t=\(t)")
            expectClose(PredictionType.vPrediction.epsilon(from: v, x: x, alphaBar: abar).array, eps.array.map(Double.init),
                        tolerance: 1e-6, "v t=\(t)")
            #expect(PredictionType.epsilon.epsilon(from: eps, x: x, alphaBar: abar) === eps)
        }
    }

    @Test("guided output converted = each prediction converted, then guided")
    func guidanceCommutes() {
        let x = fixtureTensor((0..<32).map { Double($0 % 9) / 4 - 1 })
        let cond = fixtureTensor((0..<32).map { Foundation.sin(Double($0)) })
        let uncond = fixtureTensor((0..<32).map { Foundation.cos(Double($0)) })
        let w = 3.0, abar = NoiseSchedule.recipe.alphasCumprod[400]
        for p in [PredictionType.vPrediction, .sample] {
            let guided = StepArithmetic.combine(1 - w, uncond, w, cond)
            let converted = p.epsilon(from: guided, x: x, alphaBar: abar)
            let each = StepArithmetic.combine(1 - w, p.epsilon(from: uncond, x: x, alphaBar: abar),
                                              w, p.epsilon(from: cond, x: x, alphaBar: abar))
            expectClose(converted.array, each.array.map(Double.init), tolerance: 1e-5, "\(p.rawValue)")
        }
    }

    @Test("noise levels: the schedule's abar on DDPM, 1/(1 + sigma^2) of the step on Euler's fractional timesteps")
    func noiseLevels() throws {
        var ddpm = DDPMScheduler()
        try ddpm.setTimesteps(10)
        let schedule = NoiseSchedule.recipe
        #expect(SamplerNoiseLevels(sampler: ddpm, schedule: schedule).alphaBar(at: 700) == schedule.alphasCumprod[700])
        let euler = try EulerAncestralScheduler(steps: 12)
        let levels = SamplerNoiseLevels(sampler: euler, schedule: schedule)
        let t = euler.modelTimestep(at: 1)
        #expect(t != t.rounded())
        let sigma = Double(euler.sigmas[1])
        #expect(levels.alphaBar(at: t) == 1 / (1 + sigma * sigma))
        // between the table's abar at the two neighbouring timesteps
        let (low, high) = (schedule.alphasCumprod[Int(t)], schedule.alphasCumprod[Int(t) + 1])
        #expect(levels.alphaBar(at: t) < low && levels.alphaBar(at: t) > high)
    }

    @Test("scheduler_config.json: diffusers' text for the recipe with v_prediction; read back beside model/ and model-ema/")
    func schedulerConfig() throws {
        let text = PipelineSchedulerConfig.text(schedule: .recipe, prediction: .vPrediction)
        #expect(text == Self.vectors["scheduler_config"] as? String)
        let run = try temporaryDirectory()
        #expect(try PipelineSchedulerConfig.predictionType(at: PipelineSchedulerConfig.path(besideModel: run + "/model")) == nil)
        try PipelineSchedulerConfig.write(schedule: .recipe, prediction: .sample, inRun: run)
        #expect(PipelineSchedulerConfig.path(besideModel: run + "/model-ema/") == run + "/scheduler/scheduler_config.json")
        #expect(try PipelineSchedulerConfig.predictionType(at: PipelineSchedulerConfig.path(besideModel: run + "/model")) == .sample)
        try Data(text.replacingOccurrences(of: "v_prediction", with: "velocity").utf8).write(to: URL(fileURLWithPath: run + "/bad.json"))
        #expect(throws: FileError.self) { try PipelineSchedulerConfig.predictionType(at: run + "/bad.json") }
    }
}
