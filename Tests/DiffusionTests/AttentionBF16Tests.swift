import Foundation
import Testing
@testable import Diffusion
@testable import Kernels

/// The bf16 attention kernels (Sources/CAVX512/attention_bf16.c, taken by bf16 runs) against
/// the fp32 path on the same data, within a bound worked out per element from bf16's rounding.
///
/// The bound, with f = BF16Bound.factor (a product of two bf16-rounded factors is off by at
/// most f |a||b|), u = 2^-8 (one rounding to bf16, as BF16Bound counts it) and e = the exp's
/// relative error (7.5e-5, attention_bf16.c), for one head with sigma_ij = scale sum_c |q_ic||k_jc|:
///   scores      each off by at most d_ij = f sigma_ij; D_i = max_j d_ij.
///   forward     a softmax weight w_ij is off by at most the factor e^(d_ij + D_i) (1+e)/(1-e)
///               (numerator and normalizing sum), rounding P and v to bf16 by (1+u)^2 more:
///               |do_ic| <= sum_j w_ij |v_jc| (e^(d_ij + D_i) (1+e)/(1-e) (1+u)^2 - 1);
///               |dlse_i| <= D_i + e (1 + 1e-2).
///   backward    (given the fp32 forward's o and lse) P_ij = e^(scale s_ij - lse_i) is off by
///               the factor 1 + g_ij = e^(d_ij) (1+e); dP_ij = dO_i.v_j by f tau_ij (tau_ij = sum_c
///               |dO_ic||v_jc|); D = dO_i.o_i by f rho_i; so dS = P (dP - D) by e_ij =
///               P g |dP - D| + P (1+g) f (tau + rho), and by E = e (1+u) + u (|dS| + e) once
///               rounded to bf16. Then |ddV_jc| <= sum_i P |dO_ic| ((1+g)(1+u)^2 - 1),
///               |ddQ_ic| <= scale sum_j (E (1+u) + u |dS|) |k_jc|, and dK alike with q.
/// Each plus 1e-5 of the tensor's largest value for the fp32 sums, as BF16Bound. The sums in
/// the bound are exact (Double) from the fp32 path's o and lse. A fault (a wrong pair, a key
/// dropped, the scale applied twice) moves results by their own size, far past the bound.
@Suite(.kernelThreads(2), .enabled(if: KernelPath.avx512Available && KernelPath.avx512BF16Available,
                                   "needs a CPU with AVX512-BF16: the bf16 attention kernels do not run here"))
struct AttentionBF16Tests {
    static let expError = 7.5e-5

    /// q, k, v interleaved in one [n, L, 3C] buffer as the layer's fused projection gives them,
    /// dO, and both paths' results.
    @Test(arguments: [16, 48, 64, 256])
    func bf16WithinItsRoundingOfFP32(_ L: Int) {
        let (n, heads, d) = (2, 3, 8)
        let C = heads * d, ld = 3 * C
        var rng = RandomStream(seed: 71 + UInt64(L), key: 9)
        let qkv = (0..<(n * L * ld)).map { _ in Float(rng.normal()) }
        let dO = (0..<(n * L * C)).map { _ in Float(rng.normal()) }
        let scale = 1 / Float(d).squareRoot()

        func run(_ precision: ConvolutionPrecision, kernel: KernelPath, o given: [Float]? = nil, lse givenLSE: [Float]? = nil)
            -> (o: [Float], lse: [Float], g: [Float]) {
            var o = [Float](repeating: 0, count: n * L * C), lse = [Float](repeating: 0, count: n * heads * L)
            var g = [Float](repeating: .nan, count: n * L * ld)
            qkv.withUnsafeBufferPointer { x in
                let q = x.baseAddress!, k = q + C, v = q + 2 * C
                o.withUnsafeMutableBufferPointer { ob in lse.withUnsafeMutableBufferPointer { lb in
                    ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: ld,
                                                      o: ob.baseAddress!, ldo: C, lse: lb.baseAddress!,
                                                      kernel: kernel, precision: precision)
                } }
                let oIn = given ?? o, lseIn = givenLSE ?? lse
                g.withUnsafeMutableBufferPointer { gb in
                    let dq = gb.baseAddress!
                    ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: ld,
                                                       o: oIn, dout: dO, ldo: C, lse: lseIn, dq: dq, dk: dq + C,
                                                       dv: dq + 2 * C, ldd: ld, kernel: kernel, precision: precision)
                }
            }
            return (o, lse, g)
        }
        let ref = run(.fp32, kernel: .best)
        // The backward gets the fp32 forward's o and lse, so its bound covers its own rounding.
        let mine = run(.bf16, kernel: .avx512, o: ref.o, lse: ref.lse)

        // Bounds per element, in Double.
        let f = BF16Bound.factor, u = 1.0 / 256, e = Self.expError, sc = Double(scale)
        var oBound = [Double](repeating: 0, count: n * L * C), lseBound = [Double](repeating: 0, count: n * heads * L)
        var gBound = [Double](repeating: 0, count: n * L * ld)
        for b in 0..<n { for h in 0..<heads {
            func q(_ i: Int, _ c: Int) -> Double { Double(qkv[(b * L + i) * ld + h * d + c]) }
            func k(_ j: Int, _ c: Int) -> Double { Double(qkv[(b * L + j) * ld + C + h * d + c]) }
            func v(_ j: Int, _ c: Int) -> Double { Double(qkv[(b * L + j) * ld + 2 * C + h * d + c]) }
            func dout(_ i: Int, _ c: Int) -> Double { Double(dO[(b * L + i) * C + h * d + c]) }
            func out(_ i: Int, _ c: Int) -> Double { Double(ref.o[(b * L + i) * C + h * d + c]) }
            let lse = (0..<L).map { Double(ref.lse[(b * heads + h) * L + $0]) }
            var s = [Double](repeating: 0, count: L * L), delta = s
            for i in 0..<L { for j in 0..<L {
                s[i * L + j] = sc * (0..<d).reduce(0) { $0 + q(i, $1) * k(j, $1) }
                delta[i * L + j] = f * sc * (0..<d).reduce(0) { $0 + abs(q(i, $1) * k(j, $1)) }
            } }
            let rowDelta = (0..<L).map { i in (0..<L).map { delta[i * L + $0] }.max()! }
            var dS = [Double](repeating: 0, count: L * L), bigE = dS, P = dS, g1 = dS
            for i in 0..<L {
                let lseI = lse[i]
                lseBound[(b * heads + h) * L + i] = rowDelta[i] + e * 1.01
                let rho = f * (0..<d).reduce(0) { $0 + abs(dout(i, $1) * out(i, $1)) }
                let D = (0..<d).reduce(0) { $0 + dout(i, $1) * out(i, $1) }
                for j in 0..<L {
                    let w = exp(s[i * L + j] - lseI), dij = delta[i * L + j]
                    let wf = exp(dij + rowDelta[i]) * (1 + e) / (1 - e) * (1 + u) * (1 + u) - 1
                    for c in 0..<d { oBound[(b * L + i) * C + h * d + c] += w * abs(v(j, c)) * wf }
                    let g = exp(dij) * (1 + e) - 1
                    let dP = (0..<d).reduce(0) { $0 + dout(i, $1) * v(j, $1) }
                    let tau = f * (0..<d).reduce(0) { $0 + abs(dout(i, $1) * v(j, $1)) }
                    let err = w * g * abs(dP - D) + w * (1 + g) * (tau + rho)
                    P[i * L + j] = w; g1[i * L + j] = g
                    dS[i * L + j] = w * (dP - D)
                    bigE[i * L + j] = err * (1 + u) + u * (abs(dS[i * L + j]) + err)
                }
            }
            for i in 0..<L { for j in 0..<L {
                let t = bigE[i * L + j] * (1 + u) + u * abs(dS[i * L + j])
                let pv = (1 + g1[i * L + j]) * (1 + u) * (1 + u) - 1
                for c in 0..<d {
                    gBound[(b * L + i) * ld + h * d + c] += sc * t * abs(k(j, c))          // dQ_i
                    gBound[(b * L + j) * ld + C + h * d + c] += sc * t * abs(q(i, c))      // dK_j
                    gBound[(b * L + j) * ld + 2 * C + h * d + c] += P[i * L + j] * abs(dout(i, c)) * pv // dV_j
                }
            } }
        } }

        func worstShare(_ mine: [Float], _ reference: [Float], _ bound: [Double]) -> Double {
            let top = reference.reduce(0.0) { max($0, Double(abs($1))) }
            return mine.indices.map { Double(abs(mine[$0] - reference[$0])) / (bound[$0] + 1e-5 * top) }.max()!
        }
        let shares = [("o", worstShare(mine.o, ref.o, oBound)), ("lse", worstShare(mine.lse, ref.lse, lseBound)),
                      ("dq dk dv", worstShare(mine.g, ref.g, gBound))]
        print("bf16 attention L=\(L): worst error as a share of its bound:", shares.map { "\($0.0) \($0.1)" })
        for (name, share) in shares {
            #expect(share <= 1, "L=\(L) \(name): error reaches \(share) x its bf16 bound")
        }
        // Really bf16 (an fp32 path would pass the bound trivially).
        let oTop = ref.o.reduce(Float(0)) { max($0, abs($1)) }
        #expect(zip(mine.o, ref.o).map { abs($0 - $1) }.max()! > 1e-4 * oTop)
    }

    /// The precision only matters on the AVX-512 path: bf16 asked of the Swift kernels (and any
    /// precision on fp32's path) gives fp32's results bit for bit.
    @Test func swiftPathIgnoresPrecision() {
        let (n, L, heads, d) = (1, 32, 2, 8)
        let C = heads * d
        var rng = RandomStream(seed: 3, key: 9)
        let q = (0..<(n * L * C)).map { _ in Float(rng.normal()) }
        func forward(_ precision: ConvolutionPrecision) -> [Float] {
            var o = [Float](repeating: 0, count: n * L * C), lse = [Float](repeating: 0, count: n * heads * L)
            o.withUnsafeMutableBufferPointer { ob in lse.withUnsafeMutableBufferPointer { lb in
                ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: d, q: q, k: q, v: q, ld: C,
                                                  o: ob.baseAddress!, ldo: C, lse: lb.baseAddress!, kernel: .swift,
                                                  precision: precision)
            } }
            return o + lse
        }
        #expect(forward(.bf16) == forward(.fp32))
    }
}
