import Foundation
import Testing
@testable import Diffusion

/// In bf16 runs the group norms write bf16 for the convolutions after them, which keep that
/// for backward, or recompute it there (`Conv2DLayer.forward(normalized:by:)`). That must
/// change nothing: the norm rounds as oneDNN's conversion did (to nearest, ties to even),
/// and the recompute repeats the forward's arithmetic. So a whole U-Net's output, input
/// gradient and every parameter gradient must equal, bit for bit, those of a run that keeps
/// fp32 norm outputs and lets oneDNN convert them.
@Suite(.kernelThreads(2)) struct BF16ActivationTests {
    /// 16-channel blocks take the AVX-512 norm kernel, 8-channel ones the Swift kernel. The
    /// 64-channel attention (4x4, 8 heads of 8) projects on oneDNN's bf16 matmuls and holds
    /// q, k, v and o in bf16 for the bf16 kernels; the 32-channel one holds them in fp32
    /// (its to_out runs on GEMM), the 16-channel one projects on GEMM.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"), arguments: [[16, 64], [16, 32], [8, 16]])
    func normOutputsInBF16ChangeNothing(channels: [Int]) throws {
        let config = UNetConfig(sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: channels,
                                downBlockTypes: [.down, .attnDown], upBlockTypes: [.attnUp, .up],
                                layersPerBlock: 1, attentionHeadDim: 8, normNumGroups: 8)
        var rng = RandomStream(seed: 7, key: 2)
        let x = Tensor(shape: [3, 8, 8, 1])
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        func run(normOutputsInBF16: Bool, recomputed: Bool = false) throws -> (out: [Float], dx: [Float], grads: [Float]) {
            let model = try UNet2DModel(config: config)
            model.initializeParameters(seed: 3)
            model.context.convolutions = .oneDNN(.bf16)
            model.context.normOutputsInBF16 = normOutputsInBF16
            model.context.recomputesNormOutputs = recomputed
            #expect(model.context.bf16Activations == normOutputsInBF16)
            let out = try model.forward(x, timesteps: [1, 400, 900], classLabels: nil, recordForBackward: true)
            let dOut = Tensor(shape: out.shape)
            for i in 0..<out.count { dOut[i] = out[i] - x[i % x.count] }
            let dx = model.backward(dOut)
            return (out.array, dx.array, Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.count)))
        }
        let kept = try run(normOutputsInBF16: false)
        func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }
        for recompute in [false, true] {
            let bf16 = try run(normOutputsInBF16: true, recomputed: recompute)
            #expect(differing(bf16.out, kept.out) == 0, "recomputed \(recompute)")
            #expect(differing(bf16.dx, kept.dx) == 0, "recomputed \(recompute)")
            #expect(differing(bf16.grads, kept.grads) == 0, "of \(kept.grads.count) parameter gradients, recomputed \(recompute)")
        }
        #expect(kept.grads.contains { $0 != 0 })
    }

    /// The norm's bf16 rounding, on both kernels, against `BFloat16.round` of its fp32 output,
    /// over values that hit ties, large magnitudes and signs.
    @Test(arguments: [KernelPath.swift] + (KernelPath.best == .avx512 ? [KernelPath.avx512] : []))
    func affineBF16RoundsTheFP32Output(path: KernelPath) {
        let pixels = 37, C = 32
        var rng = RandomStream(seed: 1, key: 9)
        var x = (0..<(pixels * C)).map { _ in Float(rng.normal()) * 40 }
        x[0] = Float(bitPattern: 0x3F80_8000)  // exactly halfway between two bf16 values, even below
        x[1] = Float(bitPattern: 0x3F81_8000)  // halfway, odd below: rounds up
        // Channels 0 and 1 pass x through unchanged, so the ties above reach the rounding.
        let scale = (0..<C).map { $0 < 2 ? 1 : Float($0 % 5) * 0.5 + 0.25 }
        let shift = (0..<C).map { $0 < 2 ? 0 : Float(rng.normal()) }
        for silu in [false, true] {
            var wide = [Float](repeating: 0, count: x.count), narrow = [UInt16](repeating: 0, count: x.count)
            GroupNormKernel.affine(x, &wide, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu, path: path)
            GroupNormKernel.affineBF16(x, &narrow, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu, path: path)
            #expect(narrow == wide.map(BFloat16.round), "silu \(silu)")
        }
        #expect(BFloat16.round(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(BFloat16.round(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BFloat16.round(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BFloat16.round(.nan).isNaNPattern)
    }
}

private extension UInt16 {
    var isNaNPattern: Bool { BFloat16.widen(self).isNaN }
}
