import Foundation
import Testing
@testable import Diffusion

/// Finite-difference checks of every layer's backward against its own forward.
///
/// Method: L = sum_i w_i y_i (w fixed random, summed in Float64). For a random direction u
/// over the inputs (and, separately, over the parameters), the analytic directional
/// derivative <dL/dx, u> from `backward(w)` is compared with central differences
/// D(h) = (L(x + h u) - L(x - h u)) / 2h, Richardson-extrapolated as (4 D(h/2) - D(h)) / 3 to
/// cancel the h^2 term. The forward runs in Float32, so h cannot be tiny: h = 1e-2 keeps the
/// rounding noise of the difference near 1e-5 relative with O(1) data; without the
/// extrapolation the h^2 term reached 1e-2 relative on the whole resnet and attention blocks.
/// Tolerance: |fd - analytic| <= 2e-3 * max(|fd|, |analytic|) + 1e-5.
@Suite(.kernelThreads(2)) struct KernelGradientTests {
    static let h: Float = 1e-2
    static let tolerance = 2e-3

    final class Harness {
        var rng: RandomStream
        init(seed: UInt64) { rng = RandomStream(seed: seed, key: 77) }

        func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t[i] = Float(rng.normal()) * scale }
            return t
        }

        func fill(_ p: UnsafeMutablePointer<Float>, count: Int, scale: Float = 0.3) {
            for i in 0..<count { p[i] = Float(rng.normal()) * scale }
        }

        static func loss(_ y: Tensor, _ w: Tensor) -> Double {
            precondition(y.count == w.count)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(w[i]) }
            return s
        }

        /// Checks the directional derivatives of L along random directions over `inputs`,
        /// and over `params` (a range of store values) when given.
        func check(_ name: String, inputs: [Tensor], inputGrads: [Tensor],
                   params: (values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>, count: Int)? = nil,
                   weights w: Tensor, forward: () -> Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
            var directions: [(String, [Tensor], [Float])] = []
            for trial in 0..<2 {
                directions.append(("inputs #\(trial)", inputs.map { tensor($0.shape) }, []))
                if let params {
                    directions.append(("params #\(trial)", [],
                                       (0..<params.count).map { _ in Float(rng.normal()) }))
                }
            }
            for (label, du, dp) in directions {
                var analytic = 0.0
                for (g, u) in zip(inputGrads, du) { for i in 0..<u.count { analytic += Double(g[i]) * Double(u[i]) } }
                if let params { for i in 0..<dp.count { analytic += Double(params.grads[i]) * Double(dp[i]) } }
                func shift(_ s: Float) {
                    for (x, u) in zip(inputs, du) { for i in 0..<u.count { x[i] += s * u[i] } }
                    if let params { for i in 0..<dp.count { params.values[i] += s * dp[i] } }
                }
                let original = inputs.map { $0.copy() }
                let originalParams = params.map { Array(UnsafeBufferPointer(start: $0.values, count: $0.count)) }
                func restore() {
                    for (x, o) in zip(inputs, original) { x.data.update(from: o.data, count: x.count) }
                    if let params, let originalParams { params.values.update(from: originalParams, count: params.count) }
                }
                func loss(at s: Float) -> Double {
                    shift(s)
                    defer { restore() }
                    return Harness.loss(forward(), w)
                }
                func central(_ h: Float) -> Double { (loss(at: h) - loss(at: -h)) / (2 * Double(h)) }
                // Richardson: (4 D(h/2) - D(h)) / 3 cancels the h^2 term of the central difference.
                let fd = (4 * central(Self.h0 / 2) - central(Self.h0)) / 3
                let err = abs(fd - analytic)
                let bound = KernelGradientTests.tolerance * max(abs(fd), abs(analytic)) + 1e-5
                #expect(err <= bound, "\(name) \(label): finite difference \(fd), analytic \(analytic)",
                        sourceLocation: sourceLocation)
                if err > bound || ProcessInfo.processInfo.environment["GRADCHECK_VERBOSE"] != nil {
                    print("\(name) \(label): fd \(fd) analytic \(analytic) rel \(err / max(abs(fd), 1e-30))")
                }
            }
        }
        static var h0: Float { KernelGradientTests.h }
    }

    /// A store with one layer's parameters set to random values.
    func makeStore(_ build: (ParameterStore, ForwardContext) -> Void, harness: Harness,
                   gammaLike: [String] = []) -> (ParameterStore, ForwardContext) {
        let store = ParameterStore(), context = ForwardContext()
        build(store, context)
        store.allocate()
        harness.fill(store.values, count: store.count)
        for e in store.entries where gammaLike.contains(where: { e.name.hasSuffix($0) }) {
            for i in 0..<e.count { store.values[e.offset + i] += 1 }
        }
        return (store, context)
    }

    /// Shapes cover the im2col path (cout 12, odd widths), the direct kernel (cout % 16 == 0,
    /// width % 4 == 0; with cin 16 its dx runs through the direct kernel too; its weight
    /// gradient row-blocked at 16x16, packed at 8x8 and 4x16), stride 2 and 1x1.
    @Test(arguments: [(3, 1, 8, 12, 7, 6), (3, 2, 8, 12, 8, 8), (1, 1, 8, 12, 5, 6), (3, 1, 3, 16, 6, 5),
                      (3, 1, 8, 16, 3, 8), (3, 1, 16, 32, 4, 4), (3, 1, 8, 16, 16, 16),
                      (3, 1, 8, 32, 8, 8), (3, 1, 16, 64, 4, 16)])
    func conv2D(_ k: Int, _ stride: Int, _ cin: Int, _ cout: Int, _ h: Int, _ w: Int) {
        let hs = Harness(seed: UInt64(k * 100 + stride * 10 + cin))
        var layer: Conv2DLayer!
        let (store, context) = makeStore({ layer = Conv2DLayer($0, $1, name: "c", cin: cin, cout: cout, k: k, stride: stride) },
                                         harness: hs)
        let x = hs.tensor([2, h, w, cin])
        context.recordsForBackward = true
        let y = layer.forward(x)
        let wts = hs.tensor(y.shape)
        store.zeroGrads()
        let dx = layer.backward(wts)
        context.recordsForBackward = false
        hs.check("conv k\(k) s\(stride) \(cin)->\(cout)", inputs: [x], inputGrads: [dx],
                 params: (store.values, store.grads, store.count), weights: wts) { layer.forward(x) }
    }

    @Test func linear() {
        let hs = Harness(seed: 5)
        var layer: Linear!
        let (store, context) = makeStore({ layer = Linear($0, $1, name: "l", in: 12, out: 20) }, harness: hs)
        let x = hs.tensor([3, 7, 12])
        context.recordsForBackward = true
        let y = layer.forward(x)
        let wts = hs.tensor(y.shape)
        store.zeroGrads()
        let dx = layer.backward(wts)
        context.recordsForBackward = false
        hs.check("linear", inputs: [x], inputGrads: [dx], params: (store.values, store.grads, store.count),
                 weights: wts) { layer.forward(x) }
    }

    @Test(arguments: [(false, 16, 4), (true, 16, 4), (true, 24, 8), (false, 20, 5), (true, 12, 3)])
    func groupNorm(_ silu: Bool, _ channels: Int, _ groups: Int) {
        let hs = Harness(seed: silu ? 11 : 12)
        var layer: GroupNorm!
        let (store, context) = makeStore({
            layer = GroupNorm($0, $1, name: "gn", channels: channels, groups: groups, eps: 1e-5, fusedSiLU: silu)
        }, harness: hs, gammaLike: [".weight"])
        // A non-zero mean per channel, as real activations have.
        let x = hs.tensor([2, 5, 6, channels])
        for i in 0..<x.count { x[i] = x[i] * 1.5 + Float(i % channels) * 0.2 - 1 }
        context.recordsForBackward = true
        let y = layer.forward(x)
        let wts = hs.tensor(y.shape)
        store.zeroGrads()
        let dx = layer.backward(wts)
        context.recordsForBackward = false
        hs.check("group norm silu=\(silu) C=\(channels) G=\(groups)", inputs: [x], inputGrads: [dx],
                 params: (store.values, store.grads, store.count), weights: wts) { layer.forward(x) }
    }

    /// One-pass statistics against a Float64 two-pass reference on data whose mean is 500
    /// times its standard deviation (a shifted-sum variance must not cancel here).
    @Test func groupNormLargeMean() {
        let hs = Harness(seed: 41)
        let store = ParameterStore(), context = ForwardContext()
        let gn = GroupNorm(store, context, name: "gn", channels: 16, groups: 4, eps: 1e-5, fusedSiLU: false)
        store.allocate(); gn.initialize()
        let x = hs.tensor([2, 8, 8, 16], scale: 0.1)
        for i in 0..<x.count { x[i] += 50 }
        let y = gn.forward(x)
        var worst = 0.0
        for b in 0..<2 { for g in 0..<4 {
            var idx: [Int] = []
            for p in 0..<64 { for c in (g * 4)..<(g * 4 + 4) { idx.append((b * 64 + p) * 16 + c) } }
            let mean = idx.reduce(0.0) { $0 + Double(x[$1]) } / Double(idx.count)
            let v = idx.reduce(0.0) { $0 + (Double(x[$1]) - mean) * (Double(x[$1]) - mean) } / Double(idx.count)
            for i in idx { worst = max(worst, abs(Double(y[i]) - (Double(x[i]) - mean) / (v + 1e-5).squareRoot())) }
        } }
        print("group norm, mean/std = 500: max |y - reference| =", worst)
        #expect(worst < 2e-3)
    }

    @Test func silu() {
        let hs = Harness(seed: 13)
        let context = ForwardContext()
        let layer = SiLULayer(context)
        let x = hs.tensor([3, 37], scale: 3)
        context.recordsForBackward = true
        let y = layer.forward(x)
        let wts = hs.tensor(y.shape)
        let dx = layer.backward(wts)
        context.recordsForBackward = false
        hs.check("silu", inputs: [x], inputGrads: [dx], weights: wts) { layer.forward(x) }
    }

    @Test(arguments: [(2, 16, 3, 8), (2, 64, 2, 8), (1, 24, 2, 4)])
    func scaledDotProductAttention(_ n: Int, _ L: Int, _ heads: Int, _ d: Int) {
        let hs = Harness(seed: UInt64(L))
        let C = heads * d
        let q = hs.tensor([n, L, C]), k = hs.tensor([n, L, C]), v = hs.tensor([n, L, C])
        func forward() -> (Tensor, Tensor) {
            let o = Tensor(shape: [n, L, C]), lse = Tensor(shape: [n, heads, L])
            ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: d,
                                              q: q.data, k: k.data, v: v.data, o: o.data, lse: lse.data)
            return (o, lse)
        }
        let (o, lse) = forward()
        let wts = hs.tensor(o.shape)
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: q.shape), dv = Tensor(shape: q.shape)
        ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: d, q: q.data, k: k.data, v: v.data,
                                           o: o.data, lse: lse.data, dout: wts.data, dq: dq.data, dk: dk.data, dv: dv.data)
        hs.check("attention L=\(L) heads=\(heads) d=\(d)", inputs: [q, k, v], inputGrads: [dq, dk, dv],
                 weights: wts) { forward().0 }
    }

    /// The d = 8 fused kernel against the sgemm-per-head path on the same data (strided
    /// rows, as in the fused q/k/v projection).
    @Test func attentionFastPathMatchesGeneral() {
        attentionHead8MatchesGeneral(kernel: .swift, L: 32)
    }

    /// The AVX-512 kernels (16 keys or queries per vector, so L of one or many blocks).
    @Test(.enabled(if: KernelPath.avx512Available, "the CPU has no AVX-512F"),
          arguments: [16, 32, 80])
    func attentionAVX512MatchesGeneral(_ L: Int) {
        attentionHead8MatchesGeneral(kernel: .avx512, L: L)
    }

    func attentionHead8MatchesGeneral(kernel: KernelPath, L: Int) {
        let hs = Harness(seed: 23 + UInt64(L))
        let (n, heads, d) = (2, 3, 8)
        let C = heads * d, ld = 3 * C
        let qkv = hs.tensor([n, L, ld], scale: 2), dO = hs.tensor([n, L, C])
        let q = qkv.data, k = qkv.data + C, v = qkv.data + 2 * C
        let scale = 1 / Float(d).squareRoot()
        let o1 = Tensor(shape: [n, L, C]), lse1 = Tensor(shape: [n, heads, L])
        ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: ld,
                                          o: o1.data, ldo: C, lse: lse1.data, kernel: kernel)
        let o2 = Tensor(shape: [n, L, C]), lse2 = Tensor(shape: [n, heads, L])
        let g1 = Tensor(shape: [n, L, ld]), g2 = Tensor(shape: [n, L, ld])
        ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: ld,
                                           o: o1.data, dout: dO.data, ldo: C, lse: lse1.data,
                                           dq: g1.data, dk: g1.data + C, dv: g1.data + 2 * C, ldd: ld, kernel: kernel)
        for b in 0..<n { for h in 0..<heads {
            let off = b * L * ld + h * d, offO = b * L * C + h * d
            ScaledDotProductAttention.generalForward(L: L, d: d, scale: scale, q: q + off, k: k + off, v: v + off, ld: ld,
                                                     o: o2.data + offO, ldo: C, lse: lse2.data + (b * heads + h) * L)
            ScaledDotProductAttention.generalBackward(L: L, d: d, scale: scale, q: q + off, k: k + off, v: v + off,
                                                      ld: ld, o: o1.data + offO, dout: dO.data + offO, ldo: C,
                                                      lse: lse1.data + (b * heads + h) * L, dq: g2.data + off,
                                                      dk: g2.data + off + C, dv: g2.data + off + 2 * C, ldd: ld)
        } }
        func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { (0..<a.count).map { abs(a[$0] - b[$0]) }.max()! }
        #expect(maxDiff(o1, o2) < 1e-5)
        #expect(maxDiff(lse1, lse2) < 1e-5)
        #expect(maxDiff(g1, g2) < 1e-4)
    }

    /// The whole resnet block: time embedding folded into conv1's bias, shortcut into conv2's.
    /// Width 5 takes the im2col path, width 8 the direct kernel (time embedding as the start
    /// of its accumulators, the residual added at its store).
    @Test(arguments: [(8, 16, 5), (16, 16, 8), (8, 32, 8)])
    func resnetBlock(_ cin: Int, _ cout: Int, _ width: Int) {
        let hs = Harness(seed: UInt64(29 + cin))
        var block: ResnetBlock!
        let (store, context) = makeStore({
            block = ResnetBlock($0, $1, name: "r", cin: cin, cout: cout, temb: 12, groups: 4, eps: 1e-5)
        }, harness: hs, gammaLike: ["norm1.weight", "norm2.weight"])
        let x = hs.tensor([2, 4, width, cin]), temb = hs.tensor([2, 12])
        context.recordsForBackward = true
        let y = block.forward(x, tembAct: temb)
        let wts = hs.tensor(y.shape)
        store.zeroGrads()
        let dTemb = Tensor(shape: temb.shape)
        let dx = block.backward(wts, dTembAct: dTemb)
        context.recordsForBackward = false
        hs.check("resnet \(cin)->\(cout) w\(width)", inputs: [x, temb], inputGrads: [dx, dTemb],
                 params: (store.values, store.grads, store.count), weights: wts) { block.forward(x, tembAct: temb) }
    }

    /// The attention block: stacked q/k/v projection, fused kernel (L = 16) or the general
    /// path (L = 9), residual in to_out and in the norm's gradient.
    @Test(arguments: [4, 3])
    func attentionBlock(_ side: Int) {
        let hs = Harness(seed: UInt64(31 + side))
        var block: AttentionBlock!
        let (store, context) = makeStore({
            block = AttentionBlock($0, $1, name: "a", channels: 16, headDim: 8, groups: 4, eps: 1e-5)
        }, harness: hs, gammaLike: ["group_norm.weight"])
        let x = hs.tensor([2, side, side, 16])
        context.recordsForBackward = true
        let y = block.forward(x)
        let wts = hs.tensor(y.shape)
        store.zeroGrads()
        let dx = block.backward(wts)
        context.recordsForBackward = false
        hs.check("attention block \(side)x\(side)", inputs: [x], inputGrads: [dx],
                 params: (store.values, store.grads, store.count), weights: wts) { block.forward(x) }
    }

    @Test func upsample2x() {
        let hs = Harness(seed: 17)
        let x = hs.tensor([2, 3, 4, 5])
        let y = Upsample2x.forward(x)
        let wts = hs.tensor(y.shape)
        let dx = Upsample2x.backward(wts)
        hs.check("upsample", inputs: [x], inputGrads: [dx], weights: wts) { Upsample2x.forward(x) }
    }

    @Test func channelConcat() {
        let hs = Harness(seed: 19)
        let a = hs.tensor([2, 3, 4, 5]), b = hs.tensor([2, 3, 4, 7])
        let y = ChannelConcat.forward(a, b)
        let wts = hs.tensor(y.shape)
        let (da, db) = ChannelConcat.backward(wts, split: 5)
        hs.check("concat", inputs: [a, b], inputGrads: [da, db], weights: wts) { ChannelConcat.forward(a, b) }
    }

    @Test func fastExpAccuracy() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let e = Double(FastMath.exp(x)), r = Foundation.exp(Double(x))
            worst = max(worst, abs(e - r) / r)
            x += 0.000_37
        }
        print("FastMath.exp worst relative error on [-87, 88]:", worst)
        #expect(worst < 3e-7)
        #expect(FastMath.exp(-1000) < 1e-37 && FastMath.exp(-1000) >= 0)
        #expect(FastMath.exp(1000).isFinite)
        #expect(abs(FastMath.sigmoid(0) - 0.5) < 1e-7)
        var worstNP: Double = 0
        x = -87
        while x <= 0 {
            let e = Double(FastMath.expNonPositive(Float8(repeating: x))[0]), r = Foundation.exp(Double(x))
            worstNP = max(worstNP, abs(e - r) / r)
            x += 0.000_37
        }
        print("FastMath.expNonPositive worst relative error on [-87, 0]:", worstNP)
        #expect(worstNP < 5e-7)
        #expect(FastMath.expNonPositive(Float8(repeating: -1000))[0] < 1e-37)
    }
}
