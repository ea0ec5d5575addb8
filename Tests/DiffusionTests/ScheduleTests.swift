import Foundation
import Testing
@testable import Diffusion

@Suite struct ScheduleTests {
    let vectors = ReferenceFixture.schedulerVectors
    static let schedulerKeys = ["DDIMScheduler", "DDIMScheduler_clip_sample_False", "DDPMScheduler"]

    @Test("recipe schedule: T = 1000, betas 1e-4 ... 0.01")
    func recipeShape() {
        let s = NoiseSchedule.recipe
        #expect(s.count == 1000)
        #expect(s.betas.first == Double(Float(1e-4)) && s.betas.last == Double(Float(0.01)))
        #expect(zip(s.alphasCumprod, s.alphasCumprod.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test("betas equal diffusers' float32 betas bit for bit", arguments: schedulerKeys)
    func betas(key: String) {
        let s = NoiseSchedule.recipe
        for (t, value) in dict(dict(vectors[key])["betas_at"], "betas_at") {
            #expect(Float(s.betas[Int(t)!]) == Float(number(value)), "\(key) beta[\(t)]")
        }
    }

    // torch's CPU cumprod accumulates in Float64 and rounds each output to Float32: our Float64
    // values round to the fixture exactly and lie within half a Float32 ulp (6e-8) of it.
    @Test("alphas_cumprod equal diffusers' after Float32 rounding, within 6e-8 relative",
          arguments: schedulerKeys + ["seed_custom_ddim"])
    func alphasCumprod(key: String) {
        let s = NoiseSchedule.recipe
        let entry = dict(vectors[key])
        let values = dict(entry["alphas_cumprod_at"] ?? entry["abar_float32_at"], "\(key) alphas_cumprod")
        #expect(values.count == 7)
        for (t, value) in values {
            let expected = number(value)
            #expect(Float(s.alphasCumprod[Int(t)!]) == Float(expected), "\(key) alphaBar[\(t)]")
            expectClose(s.alphasCumprod[Int(t)!], expected, relative: 6e-8, "\(key) alphaBar[\(t)]")
        }
    }

    @Test("Float64 arithmetic matches the seed's float64 alphaBar")
    func float64Schedule() {
        let s = NoiseSchedule(arithmetic: .float64)
        for (t, value) in dict(dict(vectors["seed_custom_ddim"])["abar_float64_at"]) {
            expectClose(s.alphasCumprod[Int(t)!], number(value), relative: 1e-14, "float64 alphaBar[\(t)]")
        }
        #expect(s.betas.first == 1e-4 && s.betas.last == 0.01)
    }

    @Test("qSample: x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps with per-sample t")
    func qSample() {
        let s = NoiseSchedule.recipe
        let x0 = Tensor(shape: [3, 2, 2, 1], values: (0..<12).map { Float($0) / 12 - 0.5 })
        let eps = Tensor(shape: [3, 2, 2, 1], values: (0..<12).map { Float(11 - $0) / 6 - 1 })
        let t = [0, 500, 999]
        let xt = s.qSample(x0: x0, eps: eps, t: t)
        #expect(xt.shape == x0.shape)
        for i in 0..<12 {
            let abar = s.alphasCumprod[t[i / 4]]
            let expected = abar.squareRoot() * Double(x0[i]) + (1 - abar).squareRoot() * Double(eps[i])
            #expect(abs(Double(xt[i]) - expected) <= 1e-7, "x_t[\(i)]")
        }
    }

    @Test("set_timesteps(366) with leading spacing gives the fixture's timesteps", arguments: schedulerKeys)
    func fixtureTimesteps(key: String) throws {
        let entry = dict(vectors[key])
        let expected = integers(entry["timesteps"])
        #expect(expected.count == Int(number(entry["num_timesteps"])))
        let timesteps = try TimestepSpacing.leading.timesteps(inferenceSteps: 366, trainSteps: 1000)
        #expect(timesteps == expected)
        #expect(timesteps.first == 730 && timesteps.last == 0)
    }

    @Test("diffusers spacings equal numpy's lists; out-of-range lists are rejected",
          arguments: ["leading", "leading_offset1", "trailing", "linspace"])
    func spacingLists(key: String) throws {
        let spacing = TimestepSpacing(rawValue: key.hasPrefix("leading") ? "leading" : key)!
        let offset = key == "leading_offset1" ? 1 : 0
        let lists = dict(ReferenceFixture.timestepSpacings[key], key)
        #expect(lists.count == 16)
        for (n, list) in lists {
            let expected = integers(list)
            if expected.contains(where: { !(0..<1000).contains($0) }) {
                // leading + offset 1 at n = 1000 reaches t = 1000; trailing at n = 61, 103 gives
                // n + 1 timesteps ending at -1 (numpy arange quirk).
                #expect(throws: SamplingError.self, "\(key) n=\(n)") {
                    try spacing.timesteps(inferenceSteps: Int(n)!, trainSteps: 1000, stepsOffset: offset)
                }
            } else {
                let timesteps = try spacing.timesteps(inferenceSteps: Int(n)!, trainSteps: 1000, stepsOffset: offset)
                let firstDifference = zip(timesteps, expected).enumerated().first { $0.element.0 != $0.element.1 }
                #expect(timesteps.count == expected.count && firstDifference == nil,
                        "\(key) n=\(n): \(timesteps.count) vs \(expected.count) timesteps, first difference \(String(describing: firstDifference))")
                #expect(timesteps.count == Int(n)!, "\(key) n=\(n)")
            }
        }
    }

    @Test("DDIM paper spacings: uniform floor(i T/S), quadratic int(linspace(0, sqrt(0.8T), S)^2) without repeats")
    func paperSpacings() throws {
        #expect(try DDIMSpacing.uniform.timesteps(steps: 50, trainSteps: 1000) == Array(stride(from: 980, through: 0, by: -20)))
        let uniform366 = try DDIMSpacing.uniform.timesteps(steps: 366, trainSteps: 1000)
        #expect(uniform366.count == 366 && uniform366.first == 997 && uniform366.last == 0)
        #expect(try DDIMSpacing.uniform.timesteps(steps: 1, trainSteps: 1000) == [0])
        for (s, list) in dict(ReferenceFixture.timestepSpacings["ddim_quadratic"], "ddim_quadratic") {
            #expect(try DDIMSpacing.quadratic.timesteps(steps: Int(s)!, trainSteps: 1000) == integers(list), "quadratic S=\(s)")
        }
        #expect(try DDIMSpacing.quadratic.timesteps(steps: 50, trainSteps: 1000).count == 49)
    }

    @Test("step counts outside 1...T are rejected")
    func invalidCounts() {
        for n in [0, -3, 1001] {
            #expect(throws: SamplingError.invalidSteps(sampler: "leading spacing", steps: n, allowed: 1...1000)) {
                try TimestepSpacing.leading.timesteps(inferenceSteps: n, trainSteps: 1000)
            }
            #expect(throws: SamplingError.invalidSteps(sampler: "ddim (quadratic spacing)", steps: n, allowed: 1...1000)) {
                try DDIMSpacing.quadratic.timesteps(steps: n, trainSteps: 1000)
            }
        }
    }
}
