import Foundation
import Testing
@testable import Diffusion

/// diffusers 0.42.1 DDIMScheduler / DDPMScheduler outputs from scheduler_vectors.json:
/// step(model_output = noise_pred, timestep = t, sample = x_t), float32 values to 1e-5.
@Suite struct SamplerDiffusersTests {
    let vectors = ReferenceFixture.schedulerVectors
    var xT: Tensor { fixtureTensor(numbers(dict(vectors["inputs"])["x_t"])) }
    var noisePred: Tensor { fixtureTensor(numbers(dict(vectors["inputs"])["noise_pred"])) }

    func config(_ entry: [String: Any]) -> DiffusersSchedulerConfig {
        let c = dict(entry["config"], "config")
        #expect(number(c["num_train_timesteps"]) == 1000 && number(c["beta_start"]) == 1e-4 && number(c["beta_end"]) == 0.01)
        #expect(c["prediction_type"] as? String == "epsilon" && c["beta_schedule"] as? String == "linear")
        return DiffusersSchedulerConfig(clipSample: bool(c["clip_sample"]),
                                        clipSampleRange: number(c["clip_sample_range"]),
                                        timestepSpacing: TimestepSpacing(rawValue: c["timestep_spacing"] as? String ?? "")!,
                                        stepsOffset: Int(number(c["steps_offset"])))
    }

    @Test("DDIMScheduler: timesteps, final alpha, every eta = 0 step", arguments: ["DDIMScheduler", "DDIMScheduler_clip_sample_False"])
    func ddim(key: String) throws {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        let entry = dict(vectors[key], key)
        let c = dict(entry["config"])
        var scheduler = DDIMScheduler(schedule: .recipe, config: config(entry),
                                      setAlphaToOne: bool(c["set_alpha_to_one"]), eta: 0)
        try scheduler.setTimesteps(Int(number(dict(vectors["meta"])["num_inference_steps"])))
        #expect(scheduler.timesteps == integers(entry["timesteps"]))
        #expect(scheduler.finalAlphaCumprod == number(entry["final_alpha_cumprod"]))
        #expect(scheduler.schedule.count / scheduler.inferenceSteps! == Int(number(entry["step_ratio_prev_t_offset"])))
        #expect(scheduler.plannedModelEvaluations == 366)

        let steps = dict(entry["step_eta0"], "step_eta0")
        #expect(steps.count == 4)
        for (tText, value) in steps {
            let t = Int(tText)!, expected = dict(value)
            let prevT = scheduler.previousTimestep(t)
            #expect(prevT == Int(number(expected["prev_timestep"])), "\(key) t=\(t)")
            expectClose(scheduler.alphaBarAt(t), number(expected["alpha_prod_t"]), relative: 6e-8, "\(key) t=\(t) alpha_prod_t")
            expectClose(scheduler.alphaBarAt(prevT), number(expected["alpha_prod_t_prev"]), relative: 6e-8, "\(key) t=\(t) alpha_prod_t_prev")
            let out = scheduler.step(index: scheduler.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: nil, memory: &memory)
            expectClose(out.prevSample.array, numbers(expected["prev_sample"]), "\(key) t=\(t) prev_sample")
            expectClose(out.predOriginal.array, numbers(expected["pred_original_sample"]), "\(key) t=\(t) pred_original_sample")
        }
    }

    @Test("DDPMScheduler: timesteps, variance, mean, x0 and the seeded noisy step")
    func ddpm() throws {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        let entry = dict(vectors["DDPMScheduler"], "DDPMScheduler")
        #expect(dict(entry["config"])["variance_type"] as? String == "fixed_small")
        var scheduler = DDPMScheduler(schedule: .recipe, config: config(entry))
        #expect(scheduler.previousTimestep(500) == 499)  // before set_timesteps
        try scheduler.setTimesteps(366)
        #expect(scheduler.timesteps == integers(entry["timesteps"]))
        #expect(scheduler.plannedModelEvaluations == 366)

        let steps = dict(entry["step"], "step")
        #expect(steps.count == 4)
        // Every noisy step used torch.Generator().manual_seed(0), so all share one z: recover it
        // from t = 730 and check that it reproduces the other two noisy steps.
        let first = dict(steps["730"])
        let std730 = number(first["variance_std"])
        let z = Tensor(shape: xT.shape, values: zip(numbers(first["prev_sample_with_generator_seed0"]),
                                                    numbers(first["prev_sample_mean_no_noise"])).map { Float(($0 - $1) / std730) })
        for (tText, value) in steps {
            let t = Int(tText)!, expected = dict(value)
            #expect(scheduler.previousTimestep(t) == Int(number(expected["prev_timestep"])), "t=\(t)")
            let std = t > 0 ? scheduler.variance(t: t).squareRoot() : 0
            // diffusers forms beta_t = 1 - abar_t/abar_prev in Float32 (cancellation: ~3e-6 relative)
            #expect(abs(std - number(expected["variance_std"])) <= 1e-5, "t=\(t) variance_std \(std)")
            #expect(scheduler.drawsNoise(at: t) == (t > 0))
            let mean = scheduler.step(index: scheduler.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: nil, memory: &memory)
            expectClose(mean.prevSample.array, numbers(expected["prev_sample_mean_no_noise"]), "t=\(t) mean")
            expectClose(mean.predOriginal.array, numbers(expected["pred_original_sample"]), "t=\(t) pred_original_sample")
            let noisy = scheduler.step(index: scheduler.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: z, memory: &memory)
            expectClose(noisy.prevSample.array, numbers(expected["prev_sample_with_generator_seed0"]), "t=\(t) seeded sample")
        }
    }

    @Test("DDIMScheduler with eta: sigma from eq. 16 multiplies z; eta = 1 steps match DDPM's variance")
    func ddimEta() throws {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        var ddim = DDIMScheduler(eta: 1)
        try ddim.setTimesteps(366)
        var ddpm = DDPMScheduler()
        try ddpm.setTimesteps(366)
        let z = Tensor(shape: xT.shape, values: (0..<32).map { Float($0 % 5) - 2 })
        for t in [730, 400, 2] {
            let mean = ddim.step(index: ddim.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: nil, memory: &memory)
            let noisy = ddim.step(index: ddim.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: z, memory: &memory)
            let sigma = ddpm.variance(t: t).squareRoot()  // same posterior variance on the leading grid
            for i in 0..<32 {
                #expect(abs(Double(noisy.prevSample[i] - mean.prevSample[i]) - sigma * Double(z[i])) <= 1e-6, "t=\(t) [\(i)]")
            }
        }
    }

    @Test("config knobs: clip_sample_range, set_alpha_to_one = false, steps_offset")
    func configKnobs() throws {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        var narrow = DDIMScheduler(config: .init(clipSampleRange: 0.5))
        try narrow.setTimesteps(366)
        let clipped = narrow.step(index: narrow.timesteps.firstIndex(of: 730)!, eps: noisePred, x: xT, noise: nil, memory: &memory).predOriginal.array
        #expect(clipped.allSatisfy { abs($0) <= 0.5 } && clipped.contains(-0.5))

        var keepAlpha0 = DDIMScheduler(config: .init(clipSample: false), setAlphaToOne: false)
        try keepAlpha0.setTimesteps(366)
        let abar0 = NoiseSchedule.recipe.alphasCumprod[0]
        #expect(keepAlpha0.finalAlphaCumprod == abar0)
        // from t = 0 to "t = -2" at alphaBar_0 with eta 0: x0 maps back onto x_t itself
        let last = keepAlpha0.step(index: keepAlpha0.timesteps.firstIndex(of: 0)!, eps: noisePred, x: xT, noise: nil, memory: &memory)
        expectClose(last.prevSample.array, xT.array.map(Double.init), tolerance: 1e-6, "set_alpha_to_one = false, t = 0")

        var offset = DDPMScheduler(config: .init(stepsOffset: 1))
        try offset.setTimesteps(366)
        #expect(offset.timesteps.first == 731 && offset.timesteps.last == 1 && offset.previousTimestep(1) == -1)
    }
}
