import Foundation
import Testing
@testable import Diffusion

@Suite struct AdamTests {
    /// Step 1 in closed form: both moments are bias-corrected to g and g^2, so every parameter
    /// moves by lr * g / (|g| + eps) whatever beta1 and beta2 are.
    @Test func firstStepIsSignedLearningRate() {
        let g: [Float] = [0.5, -2, 1e-3, 0]
        var p: [Float] = [1, 1, 1, 1]
        let adam = Adam(count: 4, eps: 1e-5)
        adam.update(params: &p, grads: g, lr: 0.01, beta1: 0.9, beta2: 0.999)
        for i in 0..<4 {
            let expected = 1 - 0.01 * Double(g[i]) / (abs(Double(g[i])) + 1e-5)
            #expect(abs(Double(p[i]) - expected) < 1e-6, "parameter \(i): \(p[i]) vs \(expected)")
        }
    }

    /// Two steps with a changing beta1 (one-cycle momentum), against the recurrence written out
    /// in Float64 as torch.optim.Adam states it.
    @Test func twoStepsMatchTheRecurrence() {
        let g1: [Float] = [0.3, -0.7], g2: [Float] = [-0.1, 0.9]
        var p: [Float] = [0.2, -0.4]
        let adam = Adam(count: 2, eps: 1e-5)
        adam.update(params: &p, grads: g1, lr: 1e-2, beta1: 0.95, beta2: 0.999)
        adam.update(params: &p, grads: g2, lr: 2e-2, beta1: 0.9, beta2: 0.999)
        for i in 0..<2 {
            var m = 0.0, v = 0.0, x = [0.2, -0.4][i]
            for (step, (g, lr, b1)) in [(Double(g1[i]), 1e-2, 0.95), (Double(g2[i]), 2e-2, 0.9)].enumerated() {
                m = b1 * m + (1 - b1) * g
                v = 0.999 * v + 0.001 * g * g
                let t = Double(step + 1)
                x -= lr / (1 - pow(b1, t)) * m / (v.squareRoot() / (1 - pow(0.999, t)).squareRoot() + 1e-5)
            }
            #expect(abs(Double(p[i]) - x) < 1e-6, "parameter \(i): \(p[i]) vs \(x)")
        }
    }
}

@Suite struct GradientClippingTests {
    @Test func scalesDownToTheMaximumNorm() {
        var g: [Float] = [3, 4, 0, 0]  // norm 5
        let before = GradientClipping.clip(&g, count: 4, maxNorm: 1)
        #expect(abs(before - 5) < 1e-9)
        #expect(abs(GradientClipping.norm(g, count: 4) - 1) < 1e-5)
        #expect(abs(Double(g[0]) - 0.6) < 1e-6 && abs(Double(g[1]) - 0.8) < 1e-6)
    }

    @Test func leavesSmallGradientsAlone() {
        var g: [Float] = [0.3, -0.4]
        GradientClipping.clip(&g, count: 2, maxNorm: 1)
        #expect(g == [0.3, -0.4])
    }

    /// Unset, the option is not in the canonical JSON: runs from before it keep their hash.
    @Test func unsetOptionLeavesTheOptionsJSONAlone() throws {
        var o = TrainingOptions()
        #expect(!o.canonicalJSON.contains("maxGradNorm"))
        o.maxGradNorm = 1
        #expect(try TrainingOptions(json: o.canonicalJSON).maxGradNorm == 1)
    }
}
