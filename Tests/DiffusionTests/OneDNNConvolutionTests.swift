import Foundation
import Testing
@testable import Diffusion

/// oneDNN convolutions against our own kernels (`ConvolutionBackend.swift`, the reference):
/// forward (plain, and with the per-image bias and residual the resnets fold in), weight and
/// bias gradients (accumulated onto what the buffers held) and input gradient.
@Suite(.kernelThreads(2)) struct OneDNNConvolutionTests {
    /// (n, h, w, cin, cout, k, stride): U-Net channel counts at tiny sizes; stride-2
    /// downsamplers (even and odd sizes), 1x1 shortcuts, conv_in (1 channel in), conv_out
    /// (1 out), odd batches (uneven slices over two threads), a batch of one, odd widths.
    static let shapes: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (3, 8, 8, 16, 16, 3, 1), (2, 8, 8, 48, 32, 3, 1), (5, 4, 4, 64, 64, 3, 1), (2, 4, 4, 128, 64, 3, 1),
        (3, 8, 8, 16, 16, 3, 2), (2, 7, 7, 8, 8, 3, 2), (2, 8, 8, 48, 32, 1, 1), (3, 4, 4, 96, 64, 1, 1),
        (2, 16, 16, 1, 16, 3, 1), (2, 16, 16, 16, 1, 3, 1), (1, 6, 5, 12, 12, 3, 1),
    ]

    /// Buffers of one convolution, random normal; gradients start non-zero to check they accumulate.
    final class Case {
        let g: ConvGeometry
        let x, w, b, imageBias, residual, dy: [Float]
        init(_ s: (Int, Int, Int, Int, Int, Int, Int), seed: UInt64) {
            g = ConvGeometry(n: s.0, h: s.1, w: s.2, cin: s.3, cout: s.4, k: s.5, stride: s.6, pad: (s.5 - 1) / 2)
            var rng = RandomStream(seed: seed, key: 31)
            func normal(_ n: Int, _ scale: Double = 1) -> [Float] { (0..<n).map { _ in Float(rng.normal() * scale) } }
            x = normal(g.n * g.h * g.w * g.cin)
            w = normal(g.colWidth * g.cout, 1 / Double(g.colWidth).squareRoot())
            b = normal(g.cout); imageBias = normal(g.n * g.cout); residual = normal(g.outRows * g.cout)
            dy = normal(g.outRows * g.cout)
        }

        struct Results { var y, yFused, dx, dw, db, dwOnly: [Float] }

        /// Everything `backend` computes here, and the backend that actually ran each call.
        func run(_ backend: ConvolutionBackend, x: [Float]? = nil, w: [Float]? = nil, dy: [Float]? = nil)
            -> (Results, [ConvolutionBackend]) {
            let (x, w, dy) = (x ?? self.x, w ?? self.w, dy ?? self.dy)
            var r = Results(y: .init(repeating: 0, count: g.outRows * g.cout), yFused: .init(repeating: 0, count: g.outRows * g.cout),
                            dx: .init(repeating: .nan, count: x.count), dw: .init(repeating: 0.5, count: w.count),
                            db: .init(repeating: -0.25, count: g.cout), dwOnly: .init(repeating: 0.5, count: w.count))
            var ran: [ConvolutionBackend] = []
            var dbOnly = [Float](repeating: 0, count: g.cout)
            ran.append(backend.forward(g, x: x, weight: w, bias: b, y: &r.y))
            ran.append(backend.forward(g, x: x, weight: w, bias: b, imageBias: imageBias, residual: residual, y: &r.yFused))
            ran.append(backend.backward(g, x: x, weight: w, dy: dy, dx: &r.dx, dweight: &r.dw, dbias: &r.db))
            ran.append(backend.backward(g, x: x, weight: w, dy: dy, dx: nil, dweight: &r.dwOnly, dbias: &dbOnly))
            return (r, ran)
        }
    }

    /// max |a - b| / max |b|: one scale per tensor, so near-zero entries do not dominate.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.reduce(0.0) { max($0, Double(abs($1))) }
        let diff = zip(a, b).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }
        return diff / max(scale, 1e-30)
    }

    /// fp32 against fp32: the same sums in another order, so only rounding differs
    /// (K <= 9 * 128 terms, each ~1e-7 relative).
    @Test(arguments: shapes.indices)
    func fp32MatchesSwiftKernels(_ index: Int) {
        let c = Case(Self.shapes[index], seed: UInt64(index))
        let (ref, _) = c.run(.swift)
        let (mine, ran) = c.run(.oneDNN(.fp32))
        #expect(ran.allSatisfy { $0 == .oneDNN(.fp32) }, "oneDNN fell back to the Swift kernels for \(c.g)")
        for (name, a, b) in [("y", mine.y, ref.y), ("y fused", mine.yFused, ref.yFused), ("dx", mine.dx, ref.dx),
                             ("dW", mine.dw, ref.dw), ("db", mine.db, ref.db), ("dW without dx", mine.dwOnly, ref.dwOnly)] {
            let e = Self.relativeError(a, b)
            #expect(e < 1e-5, "\(name) \(c.g): relative error \(e)")
        }
    }

    /// Shapes where Winograd runs (fp32, 3x3 stride 1, at least 64 channels on one side):
    /// sizes that are and are not multiples of its 4x4 output tile, odd batches, a batch of one.
    static let winogradShapes: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (5, 4, 4, 64, 64, 3, 1), (2, 4, 4, 128, 64, 3, 1), (3, 8, 8, 32, 64, 3, 1), (2, 10, 10, 64, 32, 3, 1),
        (1, 6, 5, 64, 64, 3, 1), (3, 16, 16, 64, 64, 3, 1), (2, 4, 4, 256, 256, 3, 1),
    ]

    /// Winograd F(4x4, 3x3) against our direct kernels. Its transforms add and scale inputs,
    /// filters and products by constants up to 8 (the points 0, +-1, +-2, +-1/2), so rounding
    /// errors grow by about the transforms' norms instead of one rounding per term: here up to
    /// 3e-6 of each tensor's largest entry, which stays under the 1e-5 bound of direct fp32 above.
    @Test(.enabled(if: OneDNN.hasAVX512, "oneDNN has Winograd on AVX-512 CPUs only"), arguments: winogradShapes.indices)
    func winogradWithinItsRoundingOfDirect(_ index: Int) {
        let c = Case(Self.winogradShapes[index], seed: UInt64(200 + index))
        let algorithms = OneDNNConvolution.algorithms(c.g, .fp32, .winograd)
        #expect(algorithms == [ConvolutionAlgorithm?](repeating: .winograd, count: 4), "\(c.g) ran \(algorithms)")
        let (ref, _) = c.run(.swift)
        let (mine, ran) = c.run(.oneDNN(.fp32, .winograd))
        #expect(ran.allSatisfy { $0 == .oneDNN(.fp32, .winograd) }, "oneDNN fell back to the Swift kernels for \(c.g)")
        for (name, a, b) in [("y", mine.y, ref.y), ("y fused", mine.yFused, ref.yFused), ("dx", mine.dx, ref.dx),
                             ("dW", mine.dw, ref.dw), ("db", mine.db, ref.db), ("dW without dx", mine.dwOnly, ref.dwOnly)] {
            let e = Self.relativeError(a, b)
            #expect(e < 1e-5, "\(name) \(c.g): relative error \(e)")
        }
    }

    /// A batch whose slices Winograd runs in several pieces (2-3 per worker here), against
    /// direct oneDNN (itself held to our kernels above), which takes each slice whole.
    @Test(.enabled(if: OneDNN.hasAVX512, "oneDNN has Winograd on AVX-512 CPUs only"))
    func winogradInPiecesMatchesDirect() {
        let c = Case((11, 32, 32, 128, 128, 3, 1), seed: 300)
        let pieces = OneDNNConvolution.Pieces(c.g, .fp32, .winograd)
        #expect(pieces.byWorker.allSatisfy { $0.count > 1 }, "\(pieces.ranges)")
        let (ref, _) = c.run(.oneDNN(.fp32, .direct))
        let (mine, _) = c.run(.oneDNN(.fp32, .winograd))
        for (name, a, b) in [("y", mine.y, ref.y), ("y fused", mine.yFused, ref.yFused), ("dx", mine.dx, ref.dx),
                             ("dW", mine.dw, ref.dw), ("db", mine.db, ref.db), ("dW without dx", mine.dwOnly, ref.dwOnly)] {
            let e = Self.relativeError(a, b)
            #expect(e < 1e-5, "\(name) \(c.g): relative error \(e)")
        }
    }

    /// Pieces cover each worker's slice in order; with Winograd each holds at most
    /// `pieceBytes` of x and y (or one image), without it each slice is one piece.
    @Test(arguments: [(1, 8, 64), (7, 32, 96), (128, 16, 64), (256, 32, 96), (64, 8, 384)])
    func piecesCoverEachSlice(_ n: Int, _ size: Int, _ channels: Int) {
        let g = ConvGeometry(n: n, h: size, w: size, cin: channels, cout: 64, k: 3, stride: 1, pad: 1)
        let perImage = 4 * size * size * (channels + 64)
        for algorithm in ConvolutionAlgorithm.allCases {
            let pieces = OneDNNConvolution.Pieces(g, .fp32, algorithm), slices = OneDNNConvolution.slices(n)
            #expect(pieces.byWorker.count == slices.count)
            for (slice, mine) in zip(slices, pieces.byWorker) {
                let ranges = mine.map { pieces.ranges[$0] }
                #expect(ranges.first?.lowerBound == slice.lowerBound && ranges.last?.upperBound == slice.upperBound)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                if algorithm == .direct {
                    #expect(ranges.count == 1)
                } else {
                    #expect(ranges.allSatisfy { $0.count == 1 || $0.count * perImage <= OneDNNConvolution.Pieces.pieceBytes })
                }
            }
        }
    }

    /// Below 64 channels, in bf16 and off 3x3 stride 1, a Winograd request runs direct.
    @Test func winogradOnlyWhereItPays() {
        let g = { (cin: Int, cout: Int, k: Int, stride: Int) in
            ConvGeometry(n: 4, h: 8, w: 8, cin: cin, cout: cout, k: k, stride: stride, pad: (k - 1) / 2)
        }
        for (geometry, precision) in [(g(32, 32, 3, 1), ConvolutionPrecision.fp32), (g(64, 64, 3, 2), .fp32),
                                      (g(64, 64, 1, 1), .fp32), (g(40, 64, 3, 1), .fp32), (g(64, 64, 3, 1), .bf16)] {
            let ran = OneDNNConvolution.algorithms(geometry, precision, .winograd)
            #expect(ran.allSatisfy { $0 != .winograd }, "\(geometry) \(precision) ran \(ran)")
        }
        #expect(ConvolutionBackend.resolve(.oneDNN(.bf16, .winograd)).backend != .oneDNN(.bf16, .winograd))
    }

    /// bf16 rounds both factors of every product to an 8-bit significand (unit roundoff
    /// u = 2^-8), so each product is off by at most (2u + u^2)|a||b| and a sum of K of them by
    /// at most (2u + u^2) sum_k |a_k||b_k|. That sum is the same convolution run on |x|, |w|,
    /// |dy| (fp32, our kernels), so each element gets its own bound, plus 1e-5 of the tensor's
    /// scale for fp32 rounding. (A random-sign sum usually lands near 2^-8 sqrt(K) of a typical
    /// term, far inside this worst case.) oneDNN 2.6.3 builds bf16 convolutions from
    /// avx512_core on: natively (`brgconv:avx512_core_bf16`, AMX above), or with VDPBF16PS
    /// emulated in fp32 (`jit_bf16:avx512_core`); at avx2 it has none. The bound holds for both.
    @Test(.enabled(if: OneDNN.hasAVX512, "oneDNN has bf16 convolutions from avx512_core on"), arguments: shapes.indices)
    func bf16WithinItsRoundingOfFP32(_ index: Int) {
        let c = Case(Self.shapes[index], seed: UInt64(100 + index))
        let (ref, _) = c.run(.swift)
        let (mine, ran) = c.run(.oneDNN(.bf16))
        #expect(ran.allSatisfy { $0 == .oneDNN(.bf16) }, "oneDNN bf16 fell back for \(c.g)")
        let (abs, _) = c.run(.swift, x: c.x.map(Swift.abs), w: c.w.map(Swift.abs), dy: c.dy.map(Swift.abs))
        // |x| conv |w| without the bias `run` added (the bias terms are exact in fp32); weight
        // gradients start from 0.5 in `run`, taken off again below.
        let yBound = zip(abs.y.indices, abs.y).map { i, v in v - c.b[i % c.g.cout] }
        func check(_ name: String, _ a: [Float], _ b: [Float], _ bound: [Float], offset: Float = 0) {
            let worst = BF16Bound.worstShare(a, b, bound, offset: offset)
            #expect(worst <= 1, "\(name) \(c.g): error reaches \(worst) x its bf16 bound")
        }
        check("y", mine.y, ref.y, yBound)
        check("y fused", mine.yFused, ref.yFused, yBound)
        check("dx", mine.dx, ref.dx, abs.dx)
        check("dW", mine.dw, ref.dw, abs.dw, offset: 0.5)
        check("dW without dx", mine.dwOnly, ref.dwOnly, abs.dwOnly, offset: 0.5)
        // The bias gradient is summed from the fp32 dy (no products): fp32 rounding only.
        #expect(Self.relativeError(mine.db, ref.db) < 1e-5)
    }

    /// Where oneDNN cannot build a primitive (here: bf16 below avx512_core), each call runs
    /// our kernels instead, with their exact results, and says so.
    @Test(.enabled(if: !OneDNN.hasAVX512, "oneDNN builds bf16 convolutions here"))
    func unbuildablePrimitiveFallsBackToSwift() {
        let c = Case(Self.shapes[0], seed: 7)
        let (ref, _) = c.run(.swift)
        let (mine, ran) = c.run(.oneDNN(.bf16))
        #expect(ran == [ConvolutionBackend](repeating: .swift, count: 4))
        #expect(mine.y == ref.y && mine.yFused == ref.yFused && mine.dx == ref.dx && mine.dw == ref.dw && mine.db == ref.db)
    }

    /// Under `ONEDNN_MAX_CPU_ISA` (OneDNNISALimitTests runs this suite so, in a child process)
    /// oneDNN must dispatch exactly the ISA that test expects: else the suite would have
    /// checked the CPU's own paths again, not the limited ones.
    @Test(.enabled(if: OneDNNISALimitTests.expectedISA != nil, "no ISA limit expected"))
    func dispatchesTheLimitedISA() {
        #expect(OneDNN.isaName == OneDNNISALimitTests.expectedISA)
    }

    @Test func resolveFallsBackToWhatTheMachineRuns() {
        #expect(ConvolutionBackend.resolve(.swift) == (.swift, nil))
        #expect(ConvolutionBackend.resolve(.oneDNN(.fp32)).backend == (OneDNN.isAvailable ? .oneDNN(.fp32) : .swift))
        let (bf16, note) = ConvolutionBackend.resolve(.oneDNN(.bf16))
        if OneDNN.hasNativeBF16 {
            #expect(bf16 == .oneDNN(.bf16) && note == nil)
        } else {
            #expect(bf16 != .oneDNN(.bf16))
            #expect(note?.contains("AVX512-BF16") == true)
        }
    }

    /// Slices: one per worker, covering the batch in order, sizes within one of each other.
    @Test(arguments: [1, 2, 3, 7, 128])
    func batchSlicesCoverTheBatch(_ n: Int) {
        let s = OneDNNConvolution.slices(n)
        #expect(s.count == min(n, Parallel.threads))
        #expect(s.first?.lowerBound == 0 && s.last?.upperBound == n)
        #expect(zip(s, s.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect((s.map(\.count).max() ?? 0) - (s.map(\.count).min() ?? 0) <= 1)
    }
}
