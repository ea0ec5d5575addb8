import Foundation
import Testing
@testable import Diffusion

@Suite struct SamplerSpecTests {
    @Test("names parse to their defaults")
    func defaults() throws {
        #expect(try SamplerSpec.parse(.ddpm) == .ddpm(skip: .recipe))
        #expect(try SamplerSpec.parse(.ddpmDiffusers) == .ddpmDiffusers(steps: 366, spacing: .leading))
        #expect(try SamplerSpec.parse(.ddimDiffusers) == .ddimDiffusers(steps: 366, eta: 0, spacing: .leading))
        #expect(try SamplerSpec.parse(.ddimRecipe) == .ddimRecipe(eta: 1, skip: .evaluate367))
        #expect(try SamplerSpec.parse(.ddim) == .ddim(steps: 50, eta: 0, spacing: .uniform))
        for name in SamplerName.allCases { #expect(try SamplerSpec.parse(name).name == name) }
    }

    @Test("options parse")
    func options() throws {
        #expect(try SamplerSpec.parse(.ddpm, skip: .everyStep) == .ddpm(skip: .everyStep))
        #expect(try SamplerSpec.parse(.ddimRecipe, eta: 0.5, skip: .every10) == .ddimRecipe(eta: 0.5, skip: .every10))
        #expect(try SamplerSpec.parse(.ddim, steps: 100, eta: 1, spacing: .quadratic) == .ddim(steps: 100, eta: 1, spacing: .quadratic))
        #expect(try SamplerSpec.parse(.ddimDiffusers, steps: 1000, spacing: .trailing) == .ddimDiffusers(steps: 1000, eta: 0, spacing: .trailing))
        #expect(try SamplerSpec.parse(.ddpmDiffusers, steps: 1, spacing: .linspace) == .ddpmDiffusers(steps: 1, spacing: .linspace))
        #expect(try SamplerSpec.parse(.ddim, steps: 20, trainSteps: 20) == .ddim(steps: 20, eta: 0, spacing: .uniform))
        #expect(SamplerSpec.ddim(steps: 50, eta: 0, spacing: .quadratic).description == "ddim(steps: 50, eta: 0.0, spacing: quadratic)")
    }

    @Test("invalid specs say what was wrong and what is allowed")
    func errors() {
        for (name, steps) in [(SamplerName.ddim, 0), (.ddim, 1001), (.ddimDiffusers, -1), (.ddpmDiffusers, 5000)] {
            #expect(throws: SamplingError.invalidSteps(sampler: name.rawValue, steps: steps, allowed: 1...1000)) {
                try SamplerSpec.parse(name, steps: steps)
            }
        }
        #expect(SamplingError.invalidSteps(sampler: "ddim", steps: 0, allowed: 1...1000).description
                == "ddim: steps must be in 1...1000 (the schedule has 1000 training steps), got 0")
        #expect(throws: SamplingError.invalidSteps(sampler: "ddim", steps: 21, allowed: 1...20)) {
            try SamplerSpec.parse(.ddim, steps: 21, trainSteps: 20)
        }

        for eta in [-0.1, 1.5] {
            #expect(throws: SamplingError.invalidEta(sampler: "ddim-recipe", eta: eta)) { try SamplerSpec.parse(.ddimRecipe, eta: eta) }
        }
        #expect(throws: SamplingError.self) { try SamplerSpec.parse(.ddim, eta: .nan) }
        #expect(SamplingError.invalidEta(sampler: "ddim", eta: -1).description.contains("eta must be in 0...1"))

        // Unknown names (--sampler ddpn, --spacing cosine, --skip every5) stop at the command line
        // with the list of names (FlagValidationTests); a known spacing of the other family stops here.
        #expect(throws: SamplingError.unknownSpacing(sampler: "ddim", spacing: "leading", allowed: ["uniform", "quadratic"])) {
            try SamplerSpec.parse(.ddim, spacing: .leading)
        }
        #expect(throws: SamplingError.unknownSpacing(sampler: "ddim-diffusers", spacing: "quadratic", allowed: ["leading", "trailing", "linspace"])) {
            try SamplerSpec.parse(.ddimDiffusers, spacing: .quadratic)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "steps", sampler: "ddpm", usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])) {
            try SamplerSpec.parse(.ddpm, steps: 100)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "eta", sampler: "ddpm-diffusers", usedBy: ["ddim-diffusers", "ddim-recipe", "ddim"])) {
            try SamplerSpec.parse(.ddpmDiffusers, eta: 0.5)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "skip", sampler: "ddim", usedBy: ["ddpm", "ddim-recipe"])) {
            try SamplerSpec.parse(.ddim, skip: .every10)
        }
        #expect(throws: SamplingError.optionNotApplicable(option: "spacing", sampler: "ddim-recipe", usedBy: ["ddpm-diffusers", "ddim-diffusers", "ddim", "dpmsolver++", "sde-dpmsolver++", "euler-ancestral"])) {
            try SamplerSpec.parse(.ddimRecipe, spacing: .uniform)
        }
        // diffusers' trailing spacing gives 62 timesteps ending at -1 for n = 61
        do {
            _ = try SamplerSpec.parse(.ddimDiffusers, steps: 61, spacing: .trailing)
            Issue.record("trailing with 61 steps should be rejected")
        } catch let error as SamplingError {
            guard case let .timestepOutOfRange(_, timestep, trainSteps, _) = error else { Issue.record("\(error)"); return }
            #expect(timestep == -1 && trainSteps == 1000)
            #expect(error.description.contains("trailing spacing with 61 steps gives timestep -1"))
        } catch { Issue.record("\(error)") }
    }
}

@Suite struct SamplerRegistryTests {
    @Test("each option is refused by exactly the samplers without a default for it, naming the ones that take it")
    func optionsFollowTheRegistry() throws {
        let given = SamplerOptions(steps: 10, eta: 0.5, spacing: .linspace, skip: .every10, order: 1, karras: false, lowerOrderFinal: false)
        for name in SamplerName.allCases {
            for option in SamplerOption.allCases {
                var one = SamplerOptions()
                switch option {
                case .steps: one.steps = given.steps
                case .eta: one.eta = given.eta
                case .spacing: one.spacing = name.registration.defaults.spacing ?? given.spacing
                case .skip: one.skip = given.skip
                case .order: one.order = given.order
                case .karras: one.karras = given.karras
                case .lowerOrderFinal: one.lowerOrderFinal = given.lowerOrderFinal
                }
                let takers = SamplerName.allCases.filter { $0.takes(option) }.map(\.rawValue)
                if name.takes(option) {
                    #expect(try SamplerSpec.parse(name, options: one).name == name, "\(name) \(option)")
                } else {
                    #expect(throws: SamplingError.optionNotApplicable(option: option.rawValue, sampler: name.rawValue, usedBy: takers)) {
                        try SamplerSpec.parse(name, options: one)
                    }
                }
            }
        }
        #expect(SamplerName.allCases.filter { $0.takes(.skip) } == [.ddpm, .ddimRecipe])
        #expect(SamplerName.allCases.filter { $0.takes(.order) } == [.dpmSolverPlusPlus, .sdeDPMSolverPlusPlus])
    }

    @Test("the help list names every sampler with its type and its options' defaults")
    func helpTable() {
        let help = SamplerTable.help()
        #expect(help.split(separator: "\n").allSatisfy { $0.count <= 76 }, "\(help)")
        for name in SamplerName.allCases {
            #expect(help.contains("  \(name.rawValue) "), "\(name)")
            #expect(help.contains(name.registration.implementation), "\(name)")
        }
        #expect(SamplerTable.options(of: .ddim) == "--steps (50), --eta (0), --spacing uniform|quadratic (uniform)")
        #expect(SamplerTable.options(of: .ddpm) == "--skip every-step|recipe|367|every10 (recipe)")
        #expect(SamplerTable.options(of: .dpmSolverPlusPlus)
                == "--steps (20), --spacing leading|trailing|linspace (linspace), --order 1|2|3 (2), --karras (off), --no-lower-order-final")
    }

    @Test("docs/sampling.md's sampler table is the registry's")
    func docsTable() throws {
        let doc = try String(contentsOfFile: PackageFixtures.packageRoot + "/docs/sampling.md", encoding: .utf8)
        let table = SamplerTable.markdown
        #expect(doc.contains(table + "\n"), "docs/sampling.md, \"The samplers\": replace the table with\n\(table)")
    }
}
