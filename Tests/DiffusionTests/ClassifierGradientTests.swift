import Foundation
import Testing
@testable import Diffusion

/// Central differences of a scalar function of one Float32 entry, evaluated in Float64 and
/// divided by the step actually taken (x ± eps rounded to Float32).
private func numericalDerivative(_ p: UnsafeMutablePointer<Float>, eps: Float, _ f: () -> Double) -> Double {
    let saved = p.pointee
    let above = saved + eps, below = saved - eps
    p.pointee = above; let up = f()
    p.pointee = below; let down = f()
    p.pointee = saved
    return (up - down) / (Double(above) - Double(below))
}

private func randomTensor(_ shape: [Int], scale: Float = 1, seed: UInt64) -> Tensor {
    var rng = RandomStream(seed: seed, key: 3)
    let t = Tensor(uninitialized: shape)
    for i in 0..<t.count { t[i] = Float(rng.normal()) * scale }
    return t
}

@Suite struct ClassifierGradientTests {
    @Test func globalAveragePoolMatchesFiniteDifferences() {
        // L = Σ w · pool(x): dL/dx from backward(w) against central differences.
        let x = randomTensor([2, 3, 4, 5], seed: 1), w = randomTensor([2, 5], seed: 2)
        func loss() -> Double {
            let y = GlobalAveragePool.forward(x)
            return (0..<y.count).reduce(0.0) { $0 + Double(y[$1]) * Double(w[$1]) }
        }
        let y = GlobalAveragePool.forward(x)
        #expect(abs(y[0] - (0..<12).reduce(Float(0)) { $0 + x[$1 * 5] } / 12) < 1e-6, "pool of image 0, channel 0")
        let dx = GlobalAveragePool.backward(w, height: 3, width: 4)
        #expect(dx.shape == x.shape)
        var worst = 0.0
        for i in 0..<x.count {
            let numeric = numericalDerivative(x.data + i, eps: 1e-2, loss)
            worst = max(worst, abs(numeric - Double(dx[i])))
        }
        print("global average pool: max |analytic - numeric| = \(worst)")
        #expect(worst < 1e-5)
    }

    @Test func crossEntropyMatchesFiniteDifferences() {
        let n = 5, k = 10
        let logits = randomTensor([n, k], scale: 3, seed: 3)
        let labels = [0, 3, 9, 3, 7]
        func meanLoss() -> Double { SoftmaxCrossEntropy.forward(logits: logits, labels: labels).lossSum / Double(n) }

        // The value itself, against a direct evaluation of -log softmax.
        var direct = 0.0
        for i in 0..<n {
            let row = (0..<k).map { Double(logits[i * k + $0]) }
            let z = row.map { exp($0) }.reduce(0, +)
            direct += log(z) - row[labels[i]]
        }
        #expect(abs(meanLoss() - direct / Double(n)) < 1e-9)

        let dz = SoftmaxCrossEntropy.backward(logits: logits, labels: labels, scale: 1 / Float(n))
        var worst = 0.0
        for i in 0..<logits.count {
            let numeric = numericalDerivative(logits.data + i, eps: 1e-3, meanLoss)
            worst = max(worst, abs(numeric - Double(dz[i])))
        }
        print("softmax cross-entropy: max |analytic - numeric| = \(worst)")
        #expect(worst < 2e-5)
        // Each row of the gradient sums to zero (softmax minus one-hot).
        for i in 0..<n { #expect(abs((0..<k).reduce(Float(0)) { $0 + dz[i * k + $1] }) < 1e-6) }
    }

    @Test func crossEntropyIsStableForLargeLogits() {
        let logits = Tensor(shape: [1, 3], values: [1000, -1000, 0])
        let f = SoftmaxCrossEntropy.forward(logits: logits, labels: [2])
        #expect(f.lossSum.isFinite && abs(f.lossSum - 1000) < 1e-9)
        #expect(f.correct == 0)
        let d = SoftmaxCrossEntropy.backward(logits: logits, labels: [0], scale: 1)
        #expect(d.array.allSatisfy { $0.isFinite })
    }

    /// The whole classifier (convs, GroupNorm + SiLU, pooling, linear, loss): parameter and
    /// input-side gradients from backward against central differences, on a tiny config.
    @Test func classifierBackwardMatchesFiniteDifferences() {
        var config = ClassifierConfig()
        config.imageSize = 8; config.channels = [4, 8]; config.blocksPerStage = [1, 2]; config.normNumGroups = 2
        config.numClasses = 3
        let model = FashionClassifier(config: config)
        model.initializeParameters(seed: 5)
        // GroupNorm's affine parameters away from (1, 0), so their gradients are exercised too.
        var rng = RandomStream(seed: 6)
        for e in model.store.entries where e.name.hasSuffix("norm.weight") || e.name.hasSuffix("norm.bias") {
            for i in 0..<e.count { model.store.values[e.offset + i] += Float(rng.normal()) * 0.3 }
        }
        let x = randomTensor([3, 8, 8, 1], scale: 0.5, seed: 7)
        let labels = [2, 0, 1]
        func loss() -> Double {
            SoftmaxCrossEntropy.forward(logits: model.forward(x).logits, labels: labels).lossSum / 3
        }
        model.store.zeroGrads()
        let logits = model.forward(x, recordForBackward: true).logits
        model.backward(SoftmaxCrossEntropy.backward(logits: logits, labels: labels, scale: 1 / 3))

        var worstRelative = 0.0
        for e in model.store.entries {
            // A handful of entries of every tensor.
            for j in Set([0, e.count / 2, e.count - 1, (e.count * 7) / 11]) {
                let p = model.store.values + e.offset + j
                let numeric = numericalDerivative(p, eps: 1e-2, loss)
                let analytic = Double(model.store.grads[e.offset + j])
                let error = abs(numeric - analytic) / max(1e-3, abs(numeric) + abs(analytic))
                worstRelative = max(worstRelative, error)
                #expect(error < 3e-2, "\(e.name)[\(j)]: analytic \(analytic), numeric \(numeric)")
            }
        }
        print("classifier parameters: worst relative difference \(worstRelative)")
    }
}
