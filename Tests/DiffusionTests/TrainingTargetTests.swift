import Foundation
import Testing
@testable import Diffusion

/// Targets and min-SNR-gamma weights of `TrainingTarget`, the weighted loss's gradient, and
/// the recipe's step unchanged by them.
@Suite struct TrainingTargetTests {
    let schedule = NoiseSchedule.recipe

    @Test("v target = sqrt(abar) eps - sqrt(1 - abar) x0 per sample; eps and x0 targets are the inputs")
    func targets() {
        let x0 = Tensor(shape: [2, 2, 2, 1], values: [0.5, -0.25, 0.1, 0, -0.5, 0.3, 0.2, -0.1])
        let eps = Tensor(shape: [2, 2, 2, 1], values: [1.2, -0.7, 0.3, 2.1, -1.5, 0.4, 0.9, -0.2])
        let t = [10, 900]
        let v = TrainingTarget.targets(.vPrediction, x0: x0, eps: eps, t: t, schedule: schedule)
        for i in 0..<8 {
            let abar = schedule.alphasCumprod[t[i / 4]]
            let expected = abar.squareRoot() * Double(eps[i]) - (1 - abar).squareRoot() * Double(x0[i])
            #expect(abs(Double(v[i]) - expected) <= 1e-7, "v[\(i)] = \(v[i]), expected \(expected)")
        }
        #expect(TrainingTarget.targets(.epsilon, x0: x0, eps: eps, t: t, schedule: schedule) === eps)
        #expect(TrainingTarget.targets(.sample, x0: x0, eps: eps, t: t, schedule: schedule) === x0)
    }

    @Test("min-SNR-gamma weights: min(snr, gamma)/snr, /(snr + 1), and min(snr, gamma)")
    func weights() {
        let gamma = 5.0
        // abar_10 ~ 0.998: SNR ~ 500, clipped; abar_900 ~ 0.01: SNR ~ 0.01, not clipped.
        let high = TrainingTarget.snr(alphaBar: schedule.alphasCumprod[10]), low = TrainingTarget.snr(alphaBar: schedule.alphasCumprod[900])
        #expect(high > gamma && low < gamma)
        let w = TrainingTarget.weights(.epsilon, t: [10, 900], gamma: gamma, schedule: schedule)
        #expect(abs(Double(w[0]) - gamma / high) <= 1e-6 * gamma / high && w[1] == 1)
        let wv = TrainingTarget.weights(.vPrediction, t: [10, 900], gamma: gamma, schedule: schedule)
        #expect(abs(Double(wv[0]) - gamma / (high + 1)) <= 1e-7 && abs(Double(wv[1]) - low / (low + 1)) <= 1e-7)
        let wx = TrainingTarget.weights(.sample, t: [10, 900], gamma: gamma, schedule: schedule)
        #expect(Double(wx[0]) == Double(Float(gamma)) && abs(Double(wx[1]) - low) <= 1e-7)
        #expect(TrainingTarget.weights(.vPrediction, t: [10, 900], gamma: nil, schedule: schedule) == [1, 1])
    }

    @Test("the weighted loss's gradient is what dOut holds: central differences of sum/(B P)")
    func gradient() {
        let shape = [3, 2, 2, 1], pixels = 4, batch = 3
        let out = Tensor(shape: shape, values: (0..<12).map { Float(Foundation.sin(Double($0) * 0.7)) })
        let target = Tensor(shape: shape, values: (0..<12).map { Float(Foundation.cos(Double($0))) * 0.5 })
        let weights: [Float] = [0.25, 1, 3]
        let scale = 2 / Float(batch * pixels)
        let (_, dOut) = TrainingTarget.weightedSquaredError(output: out, target: target, weights: weights, gradientScale: scale)
        func loss(_ o: [Double]) -> Double {
            var sum = 0.0
            for i in 0..<12 { sum += Double(weights[i / pixels]) * (o[i] - Double(target[i])) * (o[i] - Double(target[i])) }
            return sum / Double(batch * pixels)
        }
        let base = out.array.map(Double.init), h = 1e-4
        for i in 0..<12 {
            var plus = base, minus = base
            plus[i] += h; minus[i] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            #expect(abs(Double(dOut[i]) - numeric) <= 1e-6, "dOut[\(i)] = \(dOut[i]), numeric \(numeric)")
        }
    }

    @Test("default options: the recipe's loss and gradients, bit for bit (the eps MSE written out here)")
    func defaultStepUnchanged() throws {
        let trainer = try TinyTraining.trainer()
        let reference = try TinyTraining.trainer()
        let report = try trainer.trainStep()

        // The step before prediction types existed: x_t from the keyed streams, MSE against eps.
        let options = reference.options, indices = reference.batchIndices(step: 0)
        let pixels = 16
        let eps = Tensor(shape: [indices.count, 4, 4, 1])
        var timesteps: [Int] = []
        for j in indices.indices {
            var rng = RandomStream(seed: options.seed ^ Trainer.noiseSeedSalt, key: UInt64(j))
            timesteps.append(rng.int(below: options.timesteps))
            rng.fillNormal(eps.data + j * pixels, count: pixels)
        }
        let xt = reference.schedule.qSample(x0: reference.source.tensor!.gather(indices), eps: eps, t: timesteps)
        reference.model.store.zeroGrads()
        let out = try reference.model.forward(xt, timesteps: timesteps.map(Float.init), recordForBackward: true)
        let dOut = Tensor(shape: out.shape)
        let scale = 2 / Float(indices.count * pixels)
        var sum = 0.0
        for i in 0..<out.count {
            let d = out[i] - eps[i]
            sum += Double(d * d)
            dOut[i] = scale * d
        }
        _ = reference.model.backward(dOut)
        #expect(report.loss == sum / Double(indices.count * pixels))
        let count = trainer.model.store.count
        let same = (0..<count).allSatisfy { trainer.model.store.grads[$0].bitPattern == reference.model.store.grads[$0].bitPattern }
        #expect(same, "gradients differ from the recipe's")
    }

    @Test("v_prediction with min-SNR: a different loss from the same batch; the model learns its prediction type")
    func vPredictionStep() throws {
        let plain = try TinyTraining.trainer()
        let v = try TinyTraining.trainer { $0.predictionType = .vPrediction; $0.snrGamma = 5 }
        #expect(v.model.predictionType == .vPrediction && plain.model.predictionType == .epsilon)
        let a = try plain.trainStep(), b = try v.trainStep()
        #expect(a.loss.isFinite && b.loss.isFinite && a.loss != b.loss)
    }

    @Test("options: gamma in (0, 1e6], epsilon stored as none, both left out of the JSON when nil")
    func options() throws {
        var o = TrainingOptions()
        #expect(!o.canonicalJSON.contains("predictionType") && !o.canonicalJSON.contains("snrGamma"))
        o.predictionType = .vPrediction; o.snrGamma = 5
        try o.validate()
        #expect(o.canonicalJSON.contains("\"predictionType\":\"v_prediction\"") && o.canonicalJSON.contains("\"snrGamma\":5"))
        #expect(try TrainingOptions(json: o.canonicalJSON) == o)
        for bad in [0, -1, .nan, .infinity, 2e6] {
            o.snrGamma = bad
            #expect(throws: OptionError.self) { try o.validate() }
        }
        o.snrGamma = nil; o.predictionType = .epsilon
        #expect(throws: OptionError.self) { try o.validate() }
    }
}

/// The loss plot names what the run minimized.
struct LossLabelTests {
    @Test func labelNamesTargetAndWeighting() {
        #expect(TrainingTarget.lossLabel(.epsilon, snrGamma: nil) == "MSE on eps")
        #expect(TrainingTarget.lossLabel(.vPrediction, snrGamma: 5) == "min-SNR-5 weighted MSE on v")
        #expect(TrainingTarget.lossLabel(.sample, snrGamma: 2.5) == "min-SNR-2.5 weighted MSE on x0")
    }
}
