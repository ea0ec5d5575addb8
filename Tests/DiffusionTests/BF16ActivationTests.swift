import Foundation
import Testing
@testable import Diffusion

/// In bf16 runs the group norms write bf16 for the convolutions after them, computed from
/// xhat rounded to bf16, and keep that xhat for backward in place of their fp32 input
/// (`GroupNorm.forwardBF16`); the convolutions keep the norm's output or have it recomputed
/// (`Conv2DLayer.forward(normalized:by:)`; recomputed by default), attention keeps or
/// projects again its q|k|v, and 1x1 shortcuts rebuild their input from the
/// xhat. So:
/// - keeping and recomputing must agree bit for bit: the recompute repeats the forward's arithmetic;
/// - against fp32, rounding xhat is one more rounding of the size of the products' operands':
///   measured 1.0-1.6x the error of the bf16 run that keeps fp32 norm inputs (and rounds
///   nothing but the operands), so the bound is 2x, and 2.5% of the fp32 values' norm.
@Suite(.kernelThreads(2)) struct BF16ActivationTests {
    /// 16-channel blocks take the AVX-512 norm kernel, 8-channel ones the Swift kernel. The
    /// 64-channel attention (4x4, 8 heads of 8) projects on oneDNN's bf16 matmuls and holds
    /// q, k, v and o in bf16 for the bf16 kernels; the 32-channel one holds them in fp32
    /// (its to_out runs on GEMM), the 16-channel one projects on GEMM.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"), arguments: [[16, 64], [16, 32], [8, 16]])
    func normalizedInputsInBF16(channels: [Int]) throws {
        let config = UNetConfig(sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: channels,
                                downBlockTypes: [.down, .attnDown], upBlockTypes: [.attnUp, .up],
                                layersPerBlock: 1, attentionHeadDim: 8, normNumGroups: 8)
        var rng = RandomStream(seed: 7, key: 2)
        let x = Tensor(shape: [3, 8, 8, 1])
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        typealias Run = (out: [Float], dx: [Float], grads: [Float])
        func run(_ precision: ConvolutionPrecision, normOutputsInBF16: Bool = true, recomputed: Bool = false) throws -> Run {
            let model = try UNet2DModel(config: config)
            model.initializeParameters(seed: 3)
            model.context.convolutions = .oneDNN(precision)
            model.context.normOutputsInBF16 = normOutputsInBF16
            model.context.recomputesNormOutputs = recomputed
            model.context.recomputesAttentionProjections = recomputed
            #expect(model.context.bf16Activations == (normOutputsInBF16 && precision == .bf16))
            let out = try model.forward(x, timesteps: [1, 400, 900], classLabels: nil, recordForBackward: true)
            let dOut = Tensor(shape: out.shape)
            for i in 0..<out.count { dOut[i] = out[i] - x[i % x.count] }
            let dx = model.backward(dOut)
            return (out.array, dx.array, Array(UnsafeBufferPointer(start: model.store.grads, count: model.store.count)))
        }
        func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }
        /// ||a - b|| / ||b||.
        func relative(_ a: [Float], _ b: [Float]) -> Double {
            let d = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            return (d / b.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        }
        let kept = try run(.bf16), recomputed = try run(.bf16, recomputed: true)
        #expect(differing(recomputed.out, kept.out) == 0)
        #expect(differing(recomputed.dx, kept.dx) == 0)
        #expect(differing(recomputed.grads, kept.grads) == 0, "of \(kept.grads.count) parameter gradients")
        #expect(kept.grads.contains { $0 != 0 })

        let fp32 = try run(.fp32), copies = try run(.bf16, normOutputsInBF16: false)
        for (name, mine, plain, exact) in [("output", kept.out, copies.out, fp32.out), ("dx", kept.dx, copies.dx, fp32.dx),
                                           ("parameter gradients", kept.grads, copies.grads, fp32.grads)] {
            let (e, eBF16) = (relative(mine, exact), relative(plain, exact))
            #expect(e <= 2 * eBF16, "\(name): \(e) against fp32, where bf16 alone is \(eBF16)")
            #expect(e < 0.025, "\(name)")
        }
    }

    /// The norm's kernels on a bf16 xhat, on each path, against the fp32 kernels on that xhat
    /// widened (with mean 0 and rstd 1, under which they read x as xhat): the same arithmetic,
    /// so the same bits. And `normalizeBF16` is `affineBF16` to xhat, then gamma and beta on it.
    @Test(arguments: [KernelPath.swift] + (KernelPath.best == .avx512 ? [KernelPath.avx512] : []))
    func xhatKernelsRepeatTheFP32Arithmetic(path: KernelPath) {
        let pixels = 37, C = 48
        var rng = RandomStream(seed: 4, key: 1)
        func normals(_ count: Int, _ scale: Float = 1) -> [Float] { (0..<count).map { _ in Float(rng.normal()) * scale } }
        let x = normals(pixels * C, 3), dy = normals(pixels * C), addend = normals(pixels * C)
        let (scale, shift, gamma, beta) = (normals(C).map { abs($0) + 0.2 }, normals(C), normals(C), normals(C))
        let (a, b, d) = (normals(C), normals(C), normals(C))
        let zero = [Float](repeating: 0, count: C), one = [Float](repeating: 1, count: C)
        for silu in [false, true] {
            var xhat = [UInt16](repeating: 0, count: x.count), y = xhat, rounded = xhat, expected = xhat
            GroupNormKernel.normalizeBF16(x, xhat: &xhat, &y, pixels: pixels, channels: C, scale: scale, shift: shift,
                                          gamma: gamma, beta: beta, silu: silu, path: path)
            GroupNormKernel.affineBF16(x, &rounded, pixels: pixels, channels: C, scale: scale, shift: shift, silu: false, path: path)
            #expect(xhat == rounded, "silu \(silu)")
            let wide = xhat.map(BFloat16.widen)
            GroupNormKernel.affineBF16(wide, &expected, pixels: pixels, channels: C, scale: gamma, shift: beta, silu: silu, path: path)
            #expect(y == expected, "silu \(silu)")
            var again = xhat
            GroupNormKernel.affineBF16(input: xhat, &again, pixels: pixels, channels: C, scale: gamma, shift: beta, silu: silu, path: path)
            #expect(again == y, "silu \(silu)")

            var dz = [Float](repeating: 0, count: x.count), sumDz = [Float](repeating: 0, count: C), sumDzXhat = sumDz
            var dzWide = dz, sumDzWide = sumDz, sumDzXhatWide = sumDz
            GroupNormKernel.backwardSums(xhat: xhat, dy, dz: &dz, pixels: pixels, channels: C, gamma: gamma, beta: beta,
                                         silu: silu, sumDz: &sumDz, sumDzXhat: &sumDzXhat, path: path)
            GroupNormKernel.backwardSums(wide, dy, dz: &dzWide, pixels: pixels, channels: C, mean: zero, rstd: one, gamma: gamma,
                                         beta: beta, silu: silu, sumDz: &sumDzWide, sumDzXhat: &sumDzXhatWide, path: path)
            #expect((dz + sumDz + sumDzXhat).map(\.bitPattern) == (dzWide + sumDzWide + sumDzXhatWide).map(\.bitPattern),
                    "silu \(silu)")
        }
        let xhat = x.map(BFloat16.round), wide = xhat.map(BFloat16.widen)
        var dx = dy, dxWide = dy
        addend.withUnsafeBufferPointer { addend in
            GroupNormKernel.inputGradient(xhat: xhat, dz: &dx, pixels: pixels, channels: C, a: a, b: b, d: d,
                                          addend: addend.baseAddress, path: path)
            GroupNormKernel.inputGradient(wide, dz: &dxWide, pixels: pixels, channels: C, mean: zero, a: a, b: b, d: d,
                                          addend: addend.baseAddress, path: path)
        }
        #expect(dx.map(\.bitPattern) == dxWide.map(\.bitPattern))
    }

    /// `BFloat16.round` over a buffer, on each path (and each rounding the AVX-512 kernels
    /// have here) and every tail length, against the scalar rounding; `vcvtneps2bf16` flushes
    /// a denormal to signed zero.
    @Test(arguments: [(KernelPath.swift, false)] + (KernelPath.best == .avx512 ? [(.avx512, false)] : [])
                     + (KernelPath.best == .avx512 && BFloat16.roundsNatively ? [(.avx512, true)] : []))
    func roundingABufferRoundsEachValue(path: KernelPath, native: Bool) {
        var rng = RandomStream(seed: 2, key: 5)
        var x = (0..<53).map { _ in Float(rng.normal()) * 1e3 }
        x[3] = Float(bitPattern: 0x3F80_8000); x[4] = Float(bitPattern: 0x3F81_8000); x[5] = .nan; x[6] = -.infinity
        x[7] = .greatestFiniteMagnitude; x[8] = -Float.leastNormalMagnitude
        for count in [0, 1, 15, 16, 17, 53] {
            var y = [UInt16](repeating: 0xFFFF, count: x.count)
            BFloat16.round(x, &y, count: count, path: path, native: native)
            #expect(Array(y[..<count]) == x[..<count].map(BFloat16.round), "count \(count)")
            #expect(y[count...].allSatisfy { $0 == 0xFFFF }, "count \(count): wrote past the end")
        }
        var denormal: [UInt16] = [0, 0]
        BFloat16.round([-1e-39, 1e-39], &denormal, count: 2, path: path, native: native)
        #expect(denormal == (native ? [0x8000, 0] : [BFloat16.round(-1e-39), BFloat16.round(1e-39)]))
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
