import Testing
@testable import Kernels

/// The C kernels with AVX-512 intrinsics (Sources/CAVX512) against the Swift kernels they
/// replace, on the same data. (Attention: KernelGradientTests.attentionAVX512MatchesGeneral.)
@Suite(.enabled(if: KernelPath.avx512Available, "the CPU has no AVX-512F: the Swift kernels run everywhere"))
struct AVX512KernelTests {
    /// Values in [-scale, scale), reproducible.
    static func values(_ count: Int, seed: UInt64, scale: Float = 2) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return (Float(state % 1_000_000) / 500_000 - 1) * scale
        }
    }

    static func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// Both paths of one kernel, given as a closure that writes its outputs for a path.
    static func agree(_ label: String, tolerance: Float, _ run: (KernelPath) -> [Float]) {
        let swift = run(.swift), avx512 = run(.avx512)
        let finite = swift.allSatisfy { $0.isFinite }, difference = maxRelativeDifference(avx512, swift)
        #expect(finite, "\(label): Swift path not finite")
        #expect(difference < tolerance, "\(label): AVX-512 differs from Swift by \(difference)")
    }

    // 16, 48 and 64 channels (one, three and four 16-lane slabs), odd and even pixel counts.
    @Test(arguments: [(16, 7), (48, 64), (64, 9)])
    func groupNormKernelsMatchSwift(_ C: Int, _ pixels: Int) {
        let x = Self.values(pixels * C, seed: 1, scale: 3), dy = Self.values(pixels * C, seed: 2)
        let perChannel = Self.values(6 * C, seed: 3)
        let shift = Array(perChannel[0..<C]), scale = Array(perChannel[C..<(2 * C)])
        let mean = Array(perChannel[(2 * C)..<(3 * C)]), rstd = perChannel[(3 * C)..<(4 * C)].map { abs($0) + 0.5 }
        let gamma = Array(perChannel[(4 * C)..<(5 * C)]), beta = Array(perChannel[(5 * C)..<(6 * C)])
        let addend = Self.values(pixels * C, seed: 4)

        Self.agree("moments C=\(C)", tolerance: 1e-5) { path in
            var sum = [Float](repeating: 0, count: C), squares = sum
            GroupNormKernel.channelMoments(x, pixels: pixels, channels: C, shift: shift, sum: &sum,
                                           sumSquares: &squares, path: path)
            return sum + squares
        }
        for silu in [false, true] {
            Self.agree("affine C=\(C) silu=\(silu)", tolerance: 2e-6) { path in
                var y = [Float](repeating: 0, count: pixels * C)
                GroupNormKernel.affine(x, &y, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu, path: path)
                return y
            }
            Self.agree("backward sums C=\(C) silu=\(silu)", tolerance: 1e-5) { path in
                var dz = [Float](repeating: 0, count: pixels * C)
                var s = [Float](repeating: 0, count: C), t = s
                GroupNormKernel.backwardSums(x, dy, dz: &dz, pixels: pixels, channels: C, mean: mean, rstd: rstd,
                                             gamma: gamma, beta: beta, silu: silu, sumDz: &s, sumDzXhat: &t, path: path)
                return dz + s + t
            }
        }
        for withAddend in [false, true] {
            Self.agree("input gradient C=\(C) addend=\(withAddend)", tolerance: 1e-6) { path in
                var dz = dy
                addend.withUnsafeBufferPointer { ad in
                    GroupNormKernel.inputGradient(x, dz: &dz, pixels: pixels, channels: C, mean: mean, a: scale, b: shift,
                                                  d: gamma, addend: withAddend ? ad.baseAddress : nil, path: path)
                }
                return dz
            }
        }
    }

    // Row counts that leave 1-5 rows after the 6-row tiles, column counts that leave one to
    // three 16-column groups after the 64-column panels; strided A and C, B plain or transposed.
    @Test(arguments: [(13, 16, 5), (50, 48, 32), (7, 80, 33), (64, 96, 64), (6, 208, 17)])
    func gemmMatchesOpenBLAS(_ m: Int, _ n: Int, _ k: Int) {
        let lda = k + 3, ldc = n + 5
        let a = Self.values(m * lda, seed: 5), start = Self.values(m * ldc, seed: 6)
        let b = Self.values(k * n, seed: 7)  // [k, n], or read as [n, k] when transposed
        for transB in [false, true] {
            for accumulate in [false, true] {
                Self.agree("gemm \(m)x\(k)->\(n) transB=\(transB) accumulate=\(accumulate)", tolerance: 1e-5) { path in
                    var c = start
                    GEMM.rows(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: transB ? k : n, transB: transB,
                              c: &c, ldc: ldc, beta: accumulate ? 1 : 0, prologue: nil, path: path)
                    return c
                }
            }
        }
    }
}
