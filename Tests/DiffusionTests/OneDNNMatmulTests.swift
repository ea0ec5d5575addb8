import Foundation
import Testing
@testable import Diffusion

/// A linear layer's products through oneDNN's matmul (`OneDNNMatmul`, run by `LinearProducts`
/// in bf16) against the fp32 path (`GEMM`, the reference): forward with the bias (added by
/// the primitive) and with bias and residual (a sum onto them), input gradient, weight
/// gradient accumulated onto what the buffer held.
@Suite(.kernelThreads(2)) struct OneDNNMatmulTests {
    /// (m, k, n, extra row stride): the U-Net's projections (k = C, n = 3C or C; time
    /// projections k = 4 x 32) at small row counts, with rows that split into unequal pieces
    /// (two piece sizes), a single row, widths that are not multiples of 16, and strided rows.
    static let shapes: [(Int, Int, Int, Int)] = [
        (300, 32, 96, 0), (1000, 64, 192, 0), (130, 128, 384, 0), (64, 256, 256, 0), (1, 128, 64, 0),
        (7, 40, 24, 0), (517, 64, 64, 8), (2050, 16, 48, 5),
    ]

    /// The buffers of one linear, random normal; gradients start at 0.5 to check they accumulate.
    struct Case {
        let m, k, n, ldx, ldy: Int
        let x, w, bias, residual, dy: [Float]

        init(_ s: (Int, Int, Int, Int), seed: UInt64) {
            (m, k, n) = (s.0, s.1, s.2)
            (ldx, ldy) = (k + s.3, n + s.3)
            var rng = RandomStream(seed: seed, key: 41)
            func normal(_ count: Int, _ scale: Double = 1) -> [Float] { (0..<count).map { _ in Float(rng.normal() * scale) } }
            x = normal(m * ldx); w = normal(n * k, 1 / Double(k).squareRoot()); bias = normal(n); residual = normal(m * n)
            dy = normal(m * ldy)
        }

        struct Results { var y, yResidual, dx, dw, dwOnly: [Float] }

        /// Every product on `LinearProducts`' path for `precision`, or with `oneDNN` on oneDNN's matmul.
        func run(_ precision: ConvolutionPrecision, oneDNN: Bool = false, x: [Float]? = nil, w: [Float]? = nil,
                 dy: [Float]? = nil, bias: [Float]? = nil, residual: [Float]? = nil, bf16Input: Bool = false) -> Results {
            let (x, w, dy, bias) = (x ?? self.x, w ?? self.w, dy ?? self.dy, bias ?? self.bias)
            // x as a bf16 run's norm hands it over: already rounded, dense.
            let rounded = x.map(BFloat16.round)
            precondition(!bf16Input || ldx == k)
            func input<R>(_ body: (ActivationInput) -> R) -> R {
                bf16Input ? rounded.withUnsafeBufferPointer { body(.bf16($0.baseAddress!)) }
                          : x.withUnsafeBufferPointer { body(.fp32($0.baseAddress!)) }
            }
            var r = Results(y: [], yResidual: [], dx: .init(repeating: .nan, count: m * ldx), dw: [], dwOnly: [])
            let (m, k, n, ldx, ldy) = (m, k, n, ldx, ldy)
            for (withResidual, out) in [(false, \Results.y), (true, \Results.yResidual)] {
                var y = [Float](repeating: .nan, count: m * ldy)
                let residual = withResidual ? residual ?? self.residual : nil
                if oneDNN {
                    #expect(input { OneDNNMatmul.forward(m: m, k: k, n: n, x: $0, ldx: ldx, weight: w, bias: bias,
                                                         residual: residual, y: &y, ldy: ldy, precision: precision) })
                } else {
                    input { LinearProducts.forward(m: m, k: k, n: n, x: $0, ldx: ldx, weight: w, bias: bias, residual: residual,
                                                   y: &y, ldy: ldy, precision: precision) }
                }
                r[keyPath: out] = y
            }
            for withDx in [true, false] {
                var dw = [Float](repeating: 0.5, count: n * k)
                r.dx.withUnsafeMutableBufferPointer { dxs in
                    dw.withUnsafeMutableBufferPointer { dws in
                        let dxp = withDx ? dxs.baseAddress! : nil
                        if oneDNN {
                            #expect(input { OneDNNMatmul.backward(m: m, k: k, n: n, x: $0, ldx: ldx, weight: w, dy: dy, lddy: ldy,
                                                                  dx: dxp, lddx: ldx, dweight: dws.baseAddress!, precision: precision) })
                        } else {
                            input { LinearProducts.backward(m: m, k: k, n: n, x: $0, ldx: ldx, weight: w, dy: dy, lddy: ldy,
                                                            dx: dxp, lddx: ldx, dweight: dws.baseAddress!, precision: precision) }
                        }
                    }
                }
                if withDx { r.dw = dw } else { r.dwOnly = dw }
            }
            return r
        }

        /// The entries of rows [m, cols] with row stride `ld` (the padding left out).
        func rows(_ a: [Float], cols: Int, ld: Int) -> [Float] {
            (0..<m).flatMap { i in a[(i * ld)..<(i * ld + cols)] }
        }
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.reduce(0.0) { max($0, Double(abs($1))) }
        let diff = zip(a, b).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }
        return diff / max(scale, 1e-30)
    }

    /// fp32 stays on `GEMM` (the fp32 path is unchanged); bf16 takes oneDNN where it has
    /// native bf16, except the forward product at 32 -> 32 channels.
    @Test func bf16TakesOneDNNWhereItMeasuredFaster() {
        #expect(!LinearProducts.runsOneDNN(.fp32, k: 128, n: 384, forward: true))
        #expect(!LinearProducts.runsOneDNN(.fp32, k: 128, n: 384, forward: false))
        #expect(LinearProducts.runsOneDNN(.bf16, k: 128, n: 384, forward: true) == OneDNN.hasNativeBF16)
        #expect(LinearProducts.runsOneDNN(.bf16, k: 32, n: 96, forward: true) == OneDNN.hasNativeBF16)
        #expect(LinearProducts.runsOneDNN(.bf16, k: 32, n: 32, forward: false) == OneDNN.hasNativeBF16)
        #expect(!LinearProducts.runsOneDNN(.bf16, k: 32, n: 32, forward: true))
    }

    /// oneDNN's fp32 matmul through the same wrapper against `GEMM`: only the order of the
    /// sums differs (k or m terms of ~1e-7 relative rounding each).
    @Test(.enabled(if: OneDNN.isAvailable, "oneDNN could not start"), arguments: shapes.indices)
    func fp32MatmulMatchesGEMM(_ index: Int) {
        let c = Case(Self.shapes[index], seed: UInt64(index))
        let ref = c.run(.fp32), mine = c.run(.fp32, oneDNN: true)
        for (name, a, b) in [("y", c.rows(mine.y, cols: c.n, ld: c.ldy), c.rows(ref.y, cols: c.n, ld: c.ldy)),
                             ("y + residual", c.rows(mine.yResidual, cols: c.n, ld: c.ldy), c.rows(ref.yResidual, cols: c.n, ld: c.ldy)),
                             ("dx", c.rows(mine.dx, cols: c.k, ld: c.ldx), c.rows(ref.dx, cols: c.k, ld: c.ldx)),
                             ("dW", mine.dw, ref.dw), ("dW without dx", mine.dwOnly, ref.dwOnly)] {
            let e = Self.relativeError(a, b)
            #expect(e < 1e-5, "\(name) \(c.m)x\(c.k)x\(c.n): relative error \(e)")
        }
    }

    /// bf16 rounds both factors of every product to an 8-bit significand (u = 2^-8), so each
    /// product is off by at most (2u + u^2)|a||b|, and each output element by that fraction
    /// of the same product on |x|, |W|, |dy| (computed in fp32 by `GEMM`), plus 1e-5 of the
    /// tensor's scale for fp32 rounding. The bias (added in fp32) and the padding between
    /// strided rows (never written) come out exact.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"), arguments: shapes.indices)
    func bf16WithinItsRoundingOfFP32(_ index: Int) {
        let c = Case(Self.shapes[index], seed: UInt64(100 + index))
        let ref = c.run(.fp32), mine = c.run(.bf16, oneDNN: true)
        let abs = c.run(.fp32, x: c.x.map(Swift.abs), w: c.w.map(Swift.abs), dy: c.dy.map(Swift.abs),
                        bias: [Float](repeating: 0, count: c.n), residual: [Float](repeating: 0, count: c.m * c.n))
        func check(_ name: String, _ a: [Float], _ b: [Float], _ bound: [Float], offset: Float = 0) {
            let worst = BF16Bound.worstShare(a, b, bound, offset: offset)
            #expect(worst <= 1, "\(name) \(c.m)x\(c.k)x\(c.n): error reaches \(worst) x its bf16 bound")
        }
        check("y", c.rows(mine.y, cols: c.n, ld: c.ldy), c.rows(ref.y, cols: c.n, ld: c.ldy), c.rows(abs.y, cols: c.n, ld: c.ldy))
        check("y + residual", c.rows(mine.yResidual, cols: c.n, ld: c.ldy), c.rows(ref.yResidual, cols: c.n, ld: c.ldy),
              c.rows(abs.y, cols: c.n, ld: c.ldy))
        check("dx", c.rows(mine.dx, cols: c.k, ld: c.ldx), c.rows(ref.dx, cols: c.k, ld: c.ldx), c.rows(abs.dx, cols: c.k, ld: c.ldx))
        check("dW", mine.dw, ref.dw, abs.dw, offset: 0.5)
        check("dW without dx", mine.dwOnly, ref.dwOnly, abs.dwOnly, offset: 0.5)
        // The products are really bf16 (an fp32 run would pass the bound trivially): somewhere
        // the error exceeds what fp32 rounding alone could leave.
        #expect(Self.relativeError(c.rows(mine.y, cols: c.n, ld: c.ldy), c.rows(ref.y, cols: c.n, ld: c.ldy)) > 1e-5)
        // Strided rows: the gaps keep what they held (NaN here).
        for y in [mine.y, mine.yResidual] where c.ldy > c.n {
            #expect((0..<c.m).allSatisfy { i in (c.n..<c.ldy).allSatisfy { y[i * c.ldy + $0].isNaN } })
        }
        if c.ldx > c.k { #expect((0..<c.m).allSatisfy { i in (c.k..<c.ldx).allSatisfy { mine.dx[i * c.ldx + $0].isNaN } }) }
    }

    /// An x already rounded to bf16 (a bf16 run's norm output) is read as it is, and gives
    /// the products of the fp32 x that oneDNN rounds itself, on every dense shape: y and dx
    /// bit for bit, dW up to the order in which the workers' partial sums meet (pieces go
    /// out dynamically), i.e. fp32 reassociation.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"),
          arguments: shapes.indices.filter { shapes[$0].3 == 0 })
    func aBF16InputGivesTheRoundedInputsProducts(_ index: Int) {
        let c = Case(Self.shapes[index], seed: UInt64(200 + index))
        let rounded = c.x.map { BFloat16.widen(BFloat16.round($0)) }
        for oneDNN in [true, false] {
            let converted = c.run(.bf16, oneDNN: oneDNN, x: rounded), given = c.run(.bf16, oneDNN: oneDNN, bf16Input: true)
            #expect(given.y == converted.y && given.yResidual == converted.yResidual && given.dx == converted.dx)
            for (a, b) in [(given.dw, converted.dw), (given.dwOnly, converted.dwOnly)] {
                #expect(Self.relativeError(a, b) < 1e-6, "\(c.m)x\(c.k)x\(c.n), oneDNN \(oneDNN)")
            }
        }
    }

    /// Pieces cover the rows in order, 128-512 rows each (fewer only for the last, or when
    /// there are fewer rows), at most two sizes (one primitive each).
    @Test(arguments: [1, 127, 128, 300, 2048, 8192, 32768, 65537])
    func piecesCoverTheRows(_ m: Int) {
        let pieces = OneDNNMatmul.pieces(m)
        #expect(pieces.first?.lowerBound == 0 && pieces.last?.upperBound == m)
        #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(pieces.dropLast().allSatisfy { (128...512).contains($0.count) })
        #expect(Set(pieces.map(\.count)).count <= 2)
    }

    /// A Linear layer in a bf16 model (bias and residual folded into the output, backward
    /// with dx) against the same layer in fp32: within bf16 rounding of the products.
    @Test(.enabled(if: OneDNN.hasNativeBF16, "needs a CPU with AVX512-BF16"))
    func bf16LinearLayerMatchesFP32() {
        func run(_ convolutions: ConvolutionBackend) -> (y: [Float], dx: [Float], grads: [Float]) {
            let store = ParameterStore(), context = ForwardContext()
            let linear = Linear(store, context, name: "l", in: 64, out: 96)
            store.allocate()
            var rng = RandomStream(seed: 3, key: 5)
            linear.initialize(&rng)
            context.convolutions = convolutions
            context.recordsForBackward = true
            let x = Tensor(shape: [4, 80, 64]), residual = Tensor(shape: [4, 80, 96]), dy = Tensor(shape: [4, 80, 96])
            for t in [x, residual, dy] { rng.fillNormal(t.data, count: t.count) }
            let y = linear.forward(x, residual: residual)
            let dx = linear.backward(dy)
            return (y.array, dx.array, Array(UnsafeBufferPointer(start: store.grads, count: store.count)))
        }
        let ref = run(.swift), mine = run(.oneDNN(.bf16))
        #expect(mine.y != ref.y)
        for (name, a, b) in [("y", mine.y, ref.y), ("dx", mine.dx, ref.dx), ("grads", mine.grads, ref.grads)] {
            let e = Self.relativeError(a, b)
            // Sums of 64-320 random-sign terms, each off by at most 2^-7 relative.
            #expect(e < 1e-2, "\(name): relative error \(e)")
        }
    }
}
