import CBLAS

/// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased
/// estimate of the squared maximum mean discrepancy between real and generated features
/// under the cubic polynomial kernel
///
///     k(x, y) = (x·y / d + 1)³,
///
/// averaged over `subsets` random subsets of `subsetSize` rows drawn (without replacement)
/// from each side, as torchmetrics' KernelInceptionDistance does. For one subset pair
/// X, Y of m rows each:
///
///     MMD²ᵤ = (Σ_{i≠j} k(xᵢ,xⱼ) + Σ_{i≠j} k(yᵢ,yⱼ)) / (m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ) / m²
///
/// Unlike FID it needs the feature rows themselves, not only their moments. The estimate is
/// unbiased, so for equal distributions it scatters around 0 and can be negative.
public enum KernelInceptionDistance {
    /// Mean and standard deviation of MMD²ᵤ over the subsets. The std is the population one
    /// (divide by the number of subsets), as torchmetrics reports it.
    ///
    /// - Parameters:
    ///   - real, generated: feature rows, n₁×d and n₂×d row-major.
    ///   - subsetSize: rows per subset on each side, 2 ≤ m ≤ min(n₁, n₂); default min(1000, n₁, n₂).
    ///   - seed: subset s draws from `RandomStream(seed: seed, key: s)`, so the result does not
    ///     depend on how many threads share the subsets.
    public static func compute(real: [Float], generated: [Float], dimension: Int,
                               subsets: Int = 100, subsetSize: Int? = nil,
                               seed: UInt64 = 0) throws -> (mean: Double, std: Double) {
        let scores = try subsetScores(real: real, generated: generated, dimension: dimension,
                                      subsets: subsets, subsetSize: subsetSize, seed: seed)
        let count = Double(scores.count)
        let mean = scores.reduce(0, +) / count
        let variance = scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
        return (mean, variance.squareRoot())
    }

    /// MMD²ᵤ of each subset, in subset order (same arguments as `compute`).
    public static func subsetScores(real: [Float], generated: [Float], dimension d: Int,
                                    subsets: Int = 100, subsetSize: Int? = nil,
                                    seed: UInt64 = 0) throws -> [Double] {
        guard d > 0 else { throw MetricsError.invalidArgument("KID: dimension must be positive, got \(d)") }
        guard real.count % d == 0, generated.count % d == 0 else {
            throw MetricsError.dimensionMismatch(
                "KID: \(real.count) real and \(generated.count) generated values are not whole rows of dimension \(d)")
        }
        let n1 = real.count / d, n2 = generated.count / d
        guard subsets >= 1 else { throw MetricsError.invalidArgument("KID: subsets must be ≥ 1, got \(subsets)") }
        let m = subsetSize ?? min(1000, n1, n2)
        guard n1 >= 2, n2 >= 2 else {
            throw MetricsError.tooFewSamples("KID needs at least 2 rows on each side, have \(n1) real and \(n2) generated")
        }
        guard m >= 2, m <= min(n1, n2) else {
            throw MetricsError.invalidArgument(
                "KID: subset size \(m) must be in 2...\(min(n1, n2)) (\(n1) real rows, \(n2) generated rows)")
        }
        for (name, v) in [("real", real), ("generated", generated)] {
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw MetricsError.nonFinite("KID: \(name) feature row \(bad / d), column \(bad % d) is \(v[bad])")
            }
        }

        var scores = [Double](repeating: 0, count: subsets)
        real.withUnsafeBufferPointer { realRows in
            generated.withUnsafeBufferPointer { generatedRows in
                scores.withUnsafeMutableBufferPointer { out in
                    let realBase = realRows.baseAddress!, generatedBase = generatedRows.baseAddress!
                    let outBase = out.baseAddress!
                    // Subsets run on our own threads, each with single-threaded BLAS calls
                    // (OpenBLAS is kept at 1 thread by `BLAS.configure`).
                    Parallel.forEach(subsets) { s in
                        var rng = RandomStream(seed: seed, key: UInt64(s))
                        let realPick = rng.permutation(n1).prefix(m)
                        let generatedPick = rng.permutation(n2).prefix(m)
                        let x = gather(realBase, rows: realPick, dimension: d)
                        let y = gather(generatedBase, rows: generatedPick, dimension: d)
                        defer { x.deallocate(); y.deallocate() }
                        outBase[s] = unbiasedMMD2(x, y, rows: m, dimension: d)
                    }
                }
            }
        }
        return scores
    }

    /// The chosen rows as an m×d Float64 matrix (caller deallocates).
    private static func gather(_ rows: UnsafePointer<Float>, rows pick: ArraySlice<Int>,
                               dimension d: Int) -> UnsafeMutablePointer<Double> {
        let out = UnsafeMutablePointer<Double>.allocate(capacity: pick.count * d)
        for (r, i) in pick.enumerated() {
            let src = rows + i * d, dst = out + r * d
            for j in 0..<d { dst[j] = Double(src[j]) }
        }
        return out
    }

    /// MMD²ᵤ of m rows x against m rows y (both m×d Float64), Gram matrices by BLAS.
    static func unbiasedMMD2(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>,
                             rows m: Int, dimension d: Int) -> Double {
        let gram = UnsafeMutablePointer<Double>.allocate(capacity: m * m)
        defer { gram.deallocate() }
        let invD = 1.0 / Double(d)
        @inline(__always) func k(_ dot: Double) -> Double { let t = dot * invD + 1; return t * t * t }

        // Σ_{i≠j} k(aᵢ, aⱼ) = 2 Σ_{i<j}: only the strict upper triangle of A Aᵀ is needed.
        func offDiagonalSum(_ a: UnsafePointer<Double>) -> Double {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(m), Int32(d),
                        1.0, a, Int32(d), 0.0, gram, Int32(m))
            var total = 0.0
            for i in 0..<m {
                let row = gram + i * m
                var rowSum = 0.0
                for j in (i + 1)..<m { rowSum += k(row[j]) }
                total += rowSum
            }
            return 2 * total
        }
        let sxx = offDiagonalSum(x)
        let syy = offDiagonalSum(y)

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(m), Int32(d),
                    1.0, x, Int32(d), y, Int32(d), 0.0, gram, Int32(m))
        var sxy = 0.0
        for i in 0..<m {
            let row = gram + i * m
            var rowSum = 0.0
            for j in 0..<m { rowSum += k(row[j]) }
            sxy += rowSum
        }
        let mm = Double(m)
        return (sxx + syy) / (mm * (mm - 1)) - 2 * sxy / (mm * mm)
    }
}
