import Foundation
import Testing
@testable import Diffusion

@Suite struct SamplerRecipeTests {
    let vectors = ReferenceFixture.schedulerVectors
    var xT: Tensor { fixtureTensor(numbers(dict(vectors["inputs"])["x_t"])) }
    var noisePred: Tensor { fixtureTensor(numbers(dict(vectors["inputs"])["noise_pred"])) }

    @Test("seed DDIM step (eta 0) at t = 999, 500, 50, 1 and its eta = 1 sigma")
    func seedDDIM() {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        let seed = dict(vectors["seed_custom_ddim"], "seed_custom_ddim")
        let steps = dict(seed["steps_eta0"], "steps_eta0")
        #expect(steps.count == 4)
        let sampler = RecipeDDIMSampler(eta: 0, skip: .everyStep)
        let schedule = NoiseSchedule.recipe
        for (tText, value) in steps {
            let t = Int(tText)!, expected = dict(value)
            expectClose(schedule.alphasCumprod[t], number(expected["abar_t"]), relative: 6e-8, "abar_t at \(t)")
            expectClose(schedule.alphasCumprod[t - 1], number(expected["abar_t_minus_1"]), relative: 6e-8, "abar_t-1 at \(t)")
            let out = sampler.step(index: sampler.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: nil, memory: &memory)
            expectClose(out.predOriginal.array, numbers(expected["x0"]), "t=\(t) x0")
            expectClose(out.prevSample.array, numbers(expected["prev"]), "t=\(t) prev")
            let sigma = DDIMUpdate.sigma(eta: 1, alphaBar: schedule.alphasCumprod[t], alphaBarPrev: schedule.alphasCumprod[t - 1])
            // The fixture's sigma is Float32 arithmetic: 1 - abar_t/abar_{t-1} cancels to ~1e-4 and
            // keeps only ~3 digits there (2.6e-5 relative at t = 1), so compare as a Float32 value.
            #expect(abs(sigma - number(expected["sigma_if_eta1_EXTRA"])) <= 1e-5, "t=\(t) sigma(eta=1) \(sigma)")
        }
    }

    @Test("recipe DDPM step: x_{t-1} = (x_t - (1-a_t)/sqrt(1-abar_t) eps)/sqrt(a_t) + sqrt(beta_t) z")
    func recipeDDPMStep() {
        var memory = SamplerMemory()  // single-step samplers: it stays empty
        let s = NoiseSchedule.recipe
        let sampler = RecipeDDPMSampler()
        let z = Tensor(shape: xT.shape, values: (0..<32).map { Float($0 % 7) / 3 - 1 })
        for t in [999, 500, 1] {
            let out = sampler.step(index: sampler.timesteps.firstIndex(of: t)!, eps: noisePred, x: xT, noise: z, memory: &memory)
            let a = s.alphas[t], abar = s.alphasCumprod[t], beta = s.betas[t]
            let expected = (0..<32).map { i -> Double in
                let x0Prime = Double(xT[i]) - (1 - a) / (1 - abar).squareRoot() * Double(noisePred[i])
                return x0Prime / a.squareRoot() + beta.squareRoot() * Double(z[i])
            }
            expectClose(out.prevSample.array, expected, tolerance: 1e-6, "t=\(t) prev")
            let x0 = (0..<32).map { (Double(xT[$0]) - (1 - abar).squareRoot() * Double(noisePred[$0])) / abar.squareRoot() }
            expectClose(out.predOriginal.array, x0, tolerance: 1e-6, "t=\(t) x0")
        }
    }

    // The recipe samplers visit t = 999 ... 1 (999 steps). Counts over those t:
    //   recipe  t%3==0 || t<50           : 333 multiples of 3 + 33 others below 50  = 366
    //   367     t%3==0 || t<=50          : 333 + 34                                 = 367
    //   every10 (999-t)%10==0 || t<=50   : t = 999, 989, ..., 9 (100) + 45 others    = 145
    //   all                              : 999
    @Test("recipe evaluation counts: 366, 367, 145, 999")
    func evaluationCounts() {
        #expect(RecipeDDPMSampler().timesteps == Array((1...999).reversed()))
        #expect(RecipeDDPMSampler().plannedModelEvaluations == 366)
        #expect(RecipeDDPMSampler(skip: .everyStep).plannedModelEvaluations == 999)
        #expect(RecipeDDIMSampler(skip: .evaluate367).plannedModelEvaluations == 367)
        #expect(RecipeDDIMSampler(skip: .every10).plannedModelEvaluations == 145)
        #expect(RecipeDDIMSampler(skip: .recipe).plannedModelEvaluations == 366)
        let every10 = RecipeDDIMSampler(skip: .every10)
        let evaluated = zip(every10.timesteps, every10.modelEvaluationMask).filter(\.1).map(\.0)
        #expect(Array(evaluated.prefix(3)) == [999, 989, 979])
        #expect(evaluated.filter { $0 > 50 }.count == 95 && evaluated.filter { $0 <= 50 }.count == 50)
    }

    @Test("a custom predicate: the recipe's, written out, gives the preset's mask")
    func customPredicate() {
        let custom = RecipeDDPMSampler(evaluateModelWhere: { $0 % 3 == 0 || $0 < 50 })
        #expect(custom.skip == nil && custom.modelEvaluationMask == RecipeDDPMSampler().modelEvaluationMask)
        #expect(RecipeDDIMSampler(evaluateModelWhere: { $0 % 100 == 0 }).plannedModelEvaluations == 10)  // 999 forced + 900...100
    }

    @Test("the first step is evaluated even where the predicate is false")
    func firstStepEvaluated() {
        // With T = 1001 the first t is 1000, and 1000 % 3 != 0.
        let sampler = RecipeDDPMSampler(schedule: NoiseSchedule(steps: 1001), skip: .recipe)
        #expect(sampler.timesteps.first == 1000 && !sampler.evaluatesModel(at: 1000))
        #expect(sampler.modelEvaluationMask.first == true)
        #expect(sampler.plannedModelEvaluations == 367)
    }
}
