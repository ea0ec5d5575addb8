import Foundation
import Testing
@testable import Diffusion

/// The U-Net against diffusers 0.42.1 on fixtures made with torch 2.15 + diffusers 0.42.1
/// (UNet2DModels with random non-zero weights, their input, output, loss and gradients):
/// Tests/Fixtures/tiny (one channel), Tests/Fixtures/tiny-rgb (three channels, one resnet
/// per down block, 4-wide heads; made by Tests/Fixtures/make_tiny_rgb.py), and the
/// class-conditional tiny-class (num_class_embeds 11) and tiny-class-timestep (class_embed_type
/// "timestep"; both made by make_tiny_class.py, class_labels in io.safetensors): output, loss,
/// and the gradient of every parameter, the class embedding's included, and of the input.
@Suite(.kernelThreads(2)) struct UNetParityTests {
    func model(_ fixture: String) throws -> UNet2DModel {
        let model = try UNet2DModel(config: try UNetConfig.load(contentsOf: PackageFixtures.path(fixture + "/config.json")))
        let w = try Safetensors(contentsOf: PackageFixtures.path(fixture + "/diffusion_pytorch_model.safetensors"))
        #expect(w.names.count == model.store.entries.count)
        for e in model.store.entries {
            model.store.importTensor(e, from: try w.tensor(named: e.name))
        }
        return model
    }

    /// Our kernels and oneDNN fp32 (when it starts here) both hold the same tolerances.
    @Test(arguments: ["tiny", "tiny-rgb", "tiny-class", "tiny-class-timestep"], [ConvolutionBackend.swift] + (OneDNN.isAvailable ? [.oneDNN(.fp32)] : []))
    func forwardAndGradientsMatchDiffusers(fixture: String, convolutions: ConvolutionBackend) throws {
        try compare(fixture: fixture, convolutions: convolutions, Tolerance.fp32)
    }

    /// bf16 convolutions and linears (autocast-style: inputs and weights rounded to bf16,
    /// fp32 accumulation) against the same fp32 fixtures. Rounding both factors of a product
    /// to 8 significant bits (u = 2^-8) leaves a random-sign relative error of order u per
    /// layer, which grows over the U-Net's ~20 convolutions in a row. Measured on Zen 4
    /// (AVX512-BF16), convolutions alone: max |output error| 0.0074 / 0.0089 (tiny /
    /// tiny-rgb), input gradient 1.0e-2 / 1.2e-2, worst parameter gradient 3.8e-2 / 5.6e-2
    /// (a to_q bias, whose gradient is small), gradients that are zero in exact arithmetic up
    /// to 2.2e-4; with the linears in bf16 too (`LinearProducts`, 2026-12-06): output
    /// 0.0074-0.0086, input gradient 1.0-1.2e-2, worst parameter gradient 3.5-7.0e-2 (to_q
    /// biases) over the two fixtures; with attention in bf16 too (`AttentionBF16Tests`,
    /// 2026-12-06): output 0.0082-0.0086, input gradient 1.0-1.3e-2, worst parameter gradient
    /// 3.5-7.2e-2 (to_q biases). The bounds are 2-4x those; a real fault (a wrong layout, a
    /// missed term) gives errors near 1.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"), arguments: ["tiny", "tiny-rgb"])
    func bf16ForwardAndGradientsStayWithinItsRounding(fixture: String) throws {
        try compare(fixture: fixture, convolutions: .oneDNN(.bf16), Tolerance.bf16)
    }

    /// A whole U-Net whose 3x3 convolutions have 64 channels, so that oneDNN runs them with
    /// Winograd (the fixtures above have at most 16): output, input gradient and every
    /// parameter gradient against our direct kernels, within the fp32 tolerances above.
    @Test(.enabled(if: OneDNN.hasAVX512, "oneDNN has Winograd on AVX-512 CPUs only"))
    func winogradModelMatchesDirect() throws {
        let config = UNetConfig(sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [64, 64],
                                downBlockTypes: [.down, .attnDown], upBlockTypes: [.attnUp, .up],
                                layersPerBlock: 1, attentionHeadDim: 8, normNumGroups: 8)
        var rng = RandomStream(seed: 5, key: 1)
        let x = Tensor(shape: [3, 8, 8, 1])
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        let t: [Float] = [3, 500, 999]
        func run(_ convolutions: ConvolutionBackend) throws -> (out: [Float], dx: [Float], grads: [[Float]]) {
            let model = try UNet2DModel(config: config)
            model.initializeParameters(seed: 11)
            model.context.convolutions = convolutions
            let out = try model.forward(x, timesteps: t, classLabels: nil, recordForBackward: true)
            let dOut = Tensor(shape: out.shape)
            for i in 0..<out.count { dOut[i] = out[i] - x[i % x.count] }
            let dx = model.backward(dOut)
            return (out.array, dx.array, model.store.entries.map { model.store.exportTensor($0, from: model.store.grads).array })
        }
        #expect(OneDNNConvolution.algorithms(ConvGeometry(n: 3, h: 8, w: 8, cin: 64, cout: 64, k: 3, stride: 1, pad: 1),
                                             .fp32, .winograd).allSatisfy { $0 == .winograd })
        let direct = try run(.swift), winograd = try run(.oneDNN(.fp32, .winograd))
        #expect(relativeError(winograd.out, direct.out) < Tolerance.fp32.output)
        #expect(relativeError(winograd.dx, direct.dx) < Tolerance.fp32.gradient)
        var worst = 0.0
        for (a, b) in zip(winograd.grads, direct.grads) where norm(b) > 1e-6 { worst = max(worst, relativeError(a, b)) }
        #expect(worst < Tolerance.fp32.gradient, "worst gradient relative error \(worst)")
    }

    struct Tolerance {
        /// max |output - diffusers|, |loss - diffusers| / loss, gradient relative errors, and
        /// the absolute error of gradients that are zero in exact arithmetic.
        let output, loss, gradient, zeroGradient: Double
        static let fp32 = Tolerance(output: 1e-4, loss: 1e-5, gradient: 1e-3, zeroGradient: 1e-6)
        static let bf16 = Tolerance(output: 3e-2, loss: 3e-2, gradient: 1.5e-1, zeroGradient: 1e-3)
    }

    func compare(fixture: String, convolutions: ConvolutionBackend, _ tolerance: Tolerance) throws {
        let model = try model(fixture)
        model.context.convolutions = convolutions
        let io = try Safetensors(contentsOf: PackageFixtures.path(fixture + "/io.safetensors"))
        let x = Layout.nchwToNHWC(try io.tensor(named: "sample"))
        #expect(x.shape[3] == model.config.inChannels)
        let expected = Layout.nchwToNHWC(try io.tensor(named: "output"))
        let target = Layout.nchwToNHWC(try io.tensor(named: "target"))
        let t = try io.int64Values(named: "timestep").map { Float($0) }
        let labels = io.contains("class_labels") ? try io.int64Values(named: "class_labels").map { Int($0) } : nil
        #expect((labels != nil) == model.isClassConditional)
        let out = try model.forward(x, timesteps: t, classLabels: labels, recordForBackward: true)
        var maxDiff: Float = 0
        for i in 0..<out.count { maxDiff = max(maxDiff, abs(out[i] - expected[i])) }
        print("max |output - diffusers| =", maxDiff)
        #expect(out.shape == expected.shape)
        #expect(Double(maxDiff) < tolerance.output)

        let dOut = Tensor(shape: out.shape)
        var loss = 0.0
        for i in 0..<out.count {
            let d = out[i] - target[i]
            loss += Double(d * d)
            dOut[i] = 2 * d / Float(out.count)
        }
        loss /= Double(out.count)
        let refLoss = Double(try io.tensor(named: "loss")[0])
        print("loss relative error:", abs(loss - refLoss) / refLoss)
        #expect(abs(loss - refLoss) < tolerance.loss * refLoss)

        let dx = model.backward(dOut)
        let gradSample = Layout.nchwToNHWC(try io.tensor(named: "grad_sample"))
        print("input gradient relative error:", relativeError(dx.array, gradSample.array))
        #expect(relativeError(dx.array, gradSample.array) < tolerance.gradient)

        let grads = try Safetensors(contentsOf: PackageFixtures.path(fixture + "/grads.safetensors"))
        #expect(grads.names.count == model.store.entries.count)
        var worst = ("", 0.0)
        var checked = Set<String>()
        for e in model.store.entries {
            checked.insert(e.name)
            let mine = model.store.exportTensor(e, from: model.store.grads).array
            let ref = try grads.tensor(named: e.name).array
            let r = relativeError(mine, ref)
            // Some gradients are zero in exact arithmetic (a per-channel bias right before a
            // GroupNorm with one channel per group; to_k's bias under softmax): both sides are
            // then rounding noise, so those tensors are held to an absolute bound instead.
            if norm(ref) < 1e-6 {
                #expect(r * norm(ref) < tolerance.zeroGradient, "\(e.name)")
                continue
            }
            if r > worst.1 { worst = (e.name, r) }
        }
        print("worst gradient relative error:", worst)
        #expect(worst.1 < tolerance.gradient)
        // The class embedding is among the parameters compared, with a gradient that is not zero.
        if model.isClassConditional {
            let names = checked.filter { $0.hasPrefix("class_embedding.") }
            #expect(!names.isEmpty)
            for name in names {
                #expect(norm(try grads.tensor(named: name).array) > 1e-6, "\(name)")
            }
        }
    }

    func norm(_ a: [Float]) -> Double { a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// |a - b| / |b| over the whole tensor.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<a.count { num += Double(a[i] - b[i]) * Double(a[i] - b[i]); den += Double(b[i]) * Double(b[i]) }
        return (num / max(den, 1e-30)).squareRoot()
    }
}
