import Foundation
import Testing
@testable import Diffusion

@Suite struct SamplerSpecTests {
    @Test("names parse to their defaults")
    func defaults() throws {
        #expect(try SamplerSpec.parse("ddpm") == .ddpm(skip: .recipe))
        #expect(try SamplerSpec.parse("ddpm-diffusers") == .ddpmDiffusers(steps: 366, spacing: .leading))
        #expect(try SamplerSpec.parse("ddim-diffusers") == .ddimDiffusers(steps: 366, eta: 0, spacing: .leading))
        #expect(try SamplerSpec.parse("ddim-recipe") == .ddimRecipe(eta: 1, skip: .evaluate367))
        #expect(try SamplerSpec.parse("ddim") == .ddim(steps: 50, eta: 0, spacing: .uniform))
        for name in SamplerSpec.names { #expect(try SamplerSpec.parse(name).name == name) }
    }

    @Test("options parse")
    func options() throws {
        #expect(try SamplerSpec.parse("ddpm", skip: "all") == .ddpm(skip: .all))
        #expect(try SamplerSpec.parse("ddim-recipe", eta: 0.5, skip: "every10") == .ddimRecipe(eta: 0.5, skip: .every10))
        #expect(try SamplerSpec.parse("ddim", steps: 100, eta: 1, spacing: "quadratic") == .ddim(steps: 100, eta: 1, spacing: .quadratic))
        #expect(try SamplerSpec.parse("ddim-diffusers", steps: 1000, spacing: "trailing") == .ddimDiffusers(steps: 1000, eta: 0, spacing: .trailing))
        #expect(try SamplerSpec.parse("ddpm-diffusers", steps: 1, spacing: "linspace") == .ddpmDiffusers(steps: 1, spacing: .linspace))
        #expect(try SamplerSpec.parse("ddim", steps: 20, trainSteps: 20) == .ddim(steps: 20, eta: 0, spacing: .uniform))
        #expect(SamplerSpec.ddim(steps: 50, eta: 0, spacing: .quadratic).description == "ddim(steps: 50, eta: 0.0, spacing: quadratic)")
    }

    @Test("invalid specs say what was wrong and what is allowed")
    func errors() {
        let unknown = SamplingError.unknownSampler("ddpn", allowed: SamplerSpec.names)
        #expect(throws: unknown) { try SamplerSpec.parse("ddpn") }
        #expect(unknown.description == "unknown sampler 'ddpn'; expected one of: ddpm, ddpm-diffusers, ddim-diffusers, ddim-recipe, ddim, dpmsolver++, sde-dpmsolver++, euler-ancestral")

        for (name, steps) in [("ddim", 0), ("ddim", 1001), ("ddim-diffusers", -1), ("ddpm-diffusers", 5000)] {
            #expect(throws: SamplingError.invalidSteps(sampler: name, steps: steps, allowed: 1...1000)) {
                try SamplerSpec.parse(name, steps: steps)
            }
        }
        #expect(SamplingError.invalidSteps(sampler: "ddim", steps: 0, allowed: 1...1000).description
                == "ddim: steps must be in 1...1000 (the schedule has 1000 training steps), got 0")
        #expect(throws: SamplingError.invalidSteps(sampler: "ddim", steps: 21, allowed: 1...20)) {
            try SamplerSpec.parse("ddim", steps: 21, trainSteps: 20)
        }

        for eta in [-0.1, 1.5] {
            #expect(throws: SamplingError.invalidEta(sampler: "ddim-recipe", eta: eta)) { try SamplerSpec.parse("ddim-recipe", eta: eta) }
        }
        #expect(throws: SamplingError.self) { try SamplerSpec.parse("ddim", eta: .nan) }
        #expect(SamplingError.invalidEta(sampler: "ddim", eta: -1).description.contains("eta must be in 0...1"))

        #expect(throws: SamplingError.unknownSpacing(sampler: "ddim", spacing: "cosine", allowed: ["uniform", "quadratic"])) {
            try SamplerSpec.parse("ddim", spacing: "cosine")
        }
        #expect(throws: SamplingError.unknownSpacing(sampler: "ddim-diffusers", spacing: "quadratic", allowed: ["leading", "trailing", "linspace"])) {
            try SamplerSpec.parse("ddim-diffusers", spacing: "quadratic")
        }
        #expect(throws: SamplingError.unknownSkip(sampler: "ddpm", skip: "every5", allowed: ["all", "recipe", "367", "every10"])) {
            try SamplerSpec.parse("ddpm", skip: "every5")
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "steps", sampler: "ddpm", usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])) {
            try SamplerSpec.parse("ddpm", steps: 100)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "eta", sampler: "ddpm-diffusers", usedBy: ["ddim-diffusers", "ddim-recipe", "ddim"])) {
            try SamplerSpec.parse("ddpm-diffusers", eta: 0.5)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "skip", sampler: "ddim", usedBy: ["ddpm", "ddim-recipe"])) {
            try SamplerSpec.parse("ddim", skip: "every10")
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "spacing", sampler: "ddim-recipe", usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])) {
            try SamplerSpec.parse("ddim-recipe", spacing: "uniform")
        }
        // diffusers' trailing spacing gives 62 timesteps ending at -1 for n = 61
        do {
            _ = try SamplerSpec.parse("ddim-diffusers", steps: 61, spacing: "trailing")
            Issue.record("trailing with 61 steps should be rejected")
        } catch let error as SamplingError {
            guard case let .timestepOutOfRange(_, timestep, trainSteps, _) = error else { Issue.record("\(error)"); return }
            #expect(timestep == -1 && trainSteps == 1000)
            #expect(error.description.contains("trailing spacing with 61 steps gives timestep -1"))
        } catch { Issue.record("\(error)") }
    }
}
