import Foundation
import Testing
@testable import Diffusion

/// The EMA of the weights: diffusers' EMAModel decay schedule by hand, its update in closed
/// form, and its values from fewstep_vectors.json (diffusers 0.42.1, made by
/// Tests/Fixtures/make_fewstep_vectors.py).
@Suite struct EMATests {
    @Test("decay after step k: 0, then (1+s)/(10+s) or the power warm-up, capped by max and min decay")
    func decaySchedule() {
        let plain = EMA.Settings(maxDecay: 0.999)
        #expect(plain.decay(afterStep: 1) == 0)
        #expect(plain.decay(afterStep: 2) == 2.0 / 11)
        #expect(plain.decay(afterStep: 3) == 3.0 / 12)
        #expect(plain.decay(afterStep: 470) == 470.0 / 479)  // the one-epoch job ends in the warm-up
        #expect(plain.decay(afterStep: 100_000) == 0.999)
        let delayed = EMA.Settings(maxDecay: 0.6, updateAfterStep: 3)
        #expect((1...4).map { delayed.decay(afterStep: $0) } == [0, 0, 0, 0])
        #expect(delayed.decay(afterStep: 5) == 2.0 / 11)
        #expect(delayed.decay(afterStep: 50) == 0.6)
        let power = EMA.Settings(maxDecay: 0.9999, power: 0.75, invGamma: 2)
        #expect(power.decay(afterStep: 3) == 1 - Foundation.pow(1 + 2.0 / 2, -0.75))
        let floored = EMA.Settings(maxDecay: 0.999, minDecay: 0.3)
        #expect(floored.decay(afterStep: 1) == 0)  // the first step copies, min_decay or not
        #expect(floored.decay(afterStep: 2) == 0.3)
    }

    @Test("three updates in closed form: s1 = p1, s_k = d_k s_{k-1} + (1 - d_k) p_k")
    func closedForm() {
        let start: [Float] = [1, -2, 0.5]
        let steps: [[Float]] = [[0.9, -1.5, 0.25], [0.7, -1.0, 0.0], [0.2, 0.5, -0.75]]
        let ema = start.withUnsafeBufferPointer { EMA(settings: .init(maxDecay: 0.999), count: 3, parameters: $0.baseAddress!) }
        #expect(Array(UnsafeBufferPointer(start: ema.shadow, count: 3)) == start)
        for (k, p) in steps.enumerated() {
            p.withUnsafeBufferPointer { ema.update(parameters: $0.baseAddress!, afterStep: k + 1) }
        }
        let d2 = 2.0 / 11, d3 = 3.0 / 12
        for j in 0..<3 {
            let s1 = Double(steps[0][j])
            let s2 = d2 * s1 + (1 - d2) * Double(steps[1][j])
            let s3 = d3 * s2 + (1 - d3) * Double(steps[2][j])
            #expect(abs(Double(ema.shadow[j]) - s3) <= 1e-6, "element \(j): \(ema.shadow[j]) vs \(s3)")
        }
    }

    static var fixtureCases: [Int] { Array(0..<(ReferenceFixture.fewStepVectors["ema"] as? [Any] ?? []).count) }

    @Test("diffusers' EMAModel: decay and shadow after each of 30 steps", arguments: fixtureCases)
    func matchesDiffusers(index: Int) {
        let e = dict((ReferenceFixture.fewStepVectors["ema"] as? [Any] ?? [])[index])
        let s = dict(e["settings"])
        let settings = EMA.Settings(maxDecay: number(s["decay"]), minDecay: s["min_decay"].map(number) ?? 0,
                                    updateAfterStep: Int(s["update_after_step"].map(number) ?? 0),
                                    power: bool(s["use_ema_warmup"] ?? false) ? number(s["power"]) : nil,
                                    invGamma: s["inv_gamma"].map(number) ?? 1)
        let initial = numbers(e["initial"]).map(Float.init)
        let ema = initial.withUnsafeBufferPointer { EMA(settings: settings, count: initial.count, parameters: $0.baseAddress!) }
        let parameters = (e["parameters"] as? [Any] ?? []).map(numbers)
        let shadows = (e["shadow"] as? [Any] ?? []).map(numbers)
        let decays = numbers(e["decay"])
        #expect(parameters.count == 30 && shadows.count == 30 && decays.count == 30)
        for k in 1...parameters.count {
            #expect(abs(settings.decay(afterStep: k) - decays[k - 1]) <= 1e-15, "case \(index) step \(k) decay")
            parameters[k - 1].map(Float.init).withUnsafeBufferPointer { ema.update(parameters: $0.baseAddress!, afterStep: k) }
            expectClose(Array(UnsafeBufferPointer(start: ema.shadow, count: ema.count)), shadows[k - 1], tolerance: 1e-6,
                        "case \(index) \(s) step \(k) shadow")
        }
    }

    @Test("training keeps the EMA: the trainer's average follows its parameters; off with emaDecay nil")
    func trainerUpdatesTheAverage() throws {
        let trainer = try TinyTraining.trainer()
        let ema = try #require(trainer.ema)
        let count = trainer.model.store.count
        _ = try trainer.trainStep()  // step 1: decay 0, the average is the parameters
        #expect(Array(UnsafeBufferPointer(start: ema.shadow, count: count)) == trainer.model.store.valueArray)
        let before = Array(UnsafeBufferPointer(start: ema.shadow, count: count))
        _ = try trainer.trainStep()  // step 2: decay 2/11
        let after = Array(UnsafeBufferPointer(start: ema.shadow, count: count))
        let parameters = trainer.model.store.valueArray
        for j in stride(from: 0, to: count, by: 97) {
            let expected = 2.0 / 11 * Double(before[j]) + 9.0 / 11 * Double(parameters[j])
            #expect(abs(Double(after[j]) - expected) <= 1e-6 * max(1, abs(expected)), "parameter \(j)")
        }
        var options = trainer.options
        options.emaDecay = nil
        let plain = try Trainer(model: trainer.model, source: trainer.source, options: options, group: SingleProcess())
        #expect(plain.ema == nil)
    }
}
