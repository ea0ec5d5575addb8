import Testing
@testable import Diffusion

// Small dense helpers (row-major, Float64), deliberately naive: they are the reference.
private func matmul(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for k in 0..<n { let aik = a[i * n + k]; for j in 0..<n { c[i * n + j] += aik * b[k * n + j] } } }
    return c
}
private func transpose(_ a: [Double], _ n: Int) -> [Double] {
    var t = a
    for i in 0..<n { for j in 0..<n { t[j * n + i] = a[i * n + j] } }
    return t
}
private func trace(_ a: [Double], _ n: Int) -> Double { (0..<n).reduce(0) { $0 + a[$1 * n + $1] } }
private func diagonal(_ v: [Double]) -> [Double] {
    let n = v.count
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { a[i * n + i] = v[i] }
    return a
}
private func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

/// A random symmetric positive definite matrix A Aᵀ/n + 0.1 I.
private func randomSPD(_ n: Int, _ rng: inout RandomStream) -> [Double] {
    let a = (0..<(n * n)).map { _ in rng.normal() }
    var s = matmul(a, transpose(a, n), n)
    for i in 0..<(n * n) { s[i] /= Double(n) }
    for i in 0..<n { s[i * n + i] += 0.1 }
    return s
}

/// A random orthogonal matrix: a product of Householder reflections I − 2vvᵀ/|v|².
private func randomOrthogonal(_ n: Int, reflections: Int, _ rng: inout RandomStream) -> [Double] {
    var q = diagonal([Double](repeating: 1, count: n))
    for _ in 0..<reflections {
        let v = (0..<n).map { _ in rng.normal() }
        let norm2 = v.reduce(0) { $0 + $1 * $1 }
        var h = diagonal([Double](repeating: 1, count: n))
        for i in 0..<n { for j in 0..<n { h[i * n + j] -= 2 * v[i] * v[j] / norm2 } }
        q = matmul(q, h, n)
    }
    return q
}

private func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
}

@Suite struct FIDTests {
    @Test func identicalStatisticsGiveZero() throws {
        var rng = RandomStream(seed: 1)
        let d = 64
        let s = randomSPD(d, &rng)
        let mu = (0..<d).map { _ in rng.normal() }
        let fid = try FrechetDistance.compute(mean1: mu, covariance1: s, mean2: mu, covariance2: s)
        let scale = 2 * trace(s, d)
        print("FID identical d=\(d): \(fid) (relative \(abs(fid) / scale))")
        #expect(abs(fid) <= 1e-8 * scale, "FID of identical statistics \(fid), scale \(scale)")

        // The same through FeatureStatistics, from actual feature rows.
        let n = 500, width = 16
        let rows = (0..<(n * width)).map { _ in Float(1 + rng.normal()) }
        var stats = FeatureStatistics(dimension: width)
        try rows.withUnsafeBufferPointer { try stats.accumulate(features: $0.baseAddress!, count: n, dimension: width) }
        let fromStats = try FrechetDistance.compute(stats, stats)
        #expect(abs(fromStats) <= 1e-8 * 2 * trace(try stats.covariance(), width))
    }

    @Test func identicalRankDeficientStatisticsGiveNearZero() throws {
        // Fewer samples than features (the original recipe's situation): the covariance has
        // zero eigenvalues that come out as ±ε‖S‖; after clamping, each null direction can add
        // ~√ε‖S‖ ≈ 1e-8‖S‖ — the inherent accuracy of a matrix square root at a singular matrix.
        var rng = RandomStream(seed: 2)
        let n = 20, d = 32
        let rows = (0..<(n * d)).map { _ in Float(rng.normal()) }
        var stats = FeatureStatistics(dimension: d)
        try rows.withUnsafeBufferPointer { try stats.accumulate(features: $0.baseAddress!, count: n, dimension: d) }
        let fid = try FrechetDistance.compute(stats, stats)
        let scale = 2 * trace(try stats.covariance(), d)
        print("FID identical rank-deficient n=\(n) d=\(d): \(fid) (relative \(abs(fid) / scale))")
        #expect(fid.isFinite)
        #expect(abs(fid) <= 1e-6 * scale, "FID \(fid), scale \(scale)")
    }

    @Test func equalCovariancesGiveSquaredMeanDistance() throws {
        var rng = RandomStream(seed: 3)
        let d = 32
        let s = randomSPD(d, &rng)
        let mu1 = (0..<d).map { _ in rng.normal() }
        let mu2 = (0..<d).map { _ in 0.5 + rng.normal() }
        let fid = try FrechetDistance.compute(mean1: mu1, covariance1: s, mean2: mu2, covariance2: s)
        let expected = squaredDistance(mu1, mu2)
        print("FID equal covariances: FID − |dmu|² = \(fid - expected)")
        #expect(abs(fid - expected) <= 1e-9 * (expected + 2 * trace(s, d)), "FID \(fid), |dmu|² \(expected)")
    }

    @Test func diagonalCovariancesMatchClosedForm() throws {
        var rng = RandomStream(seed: 4)
        let d = 20
        let a = (0..<d).map { _ in 0.1 + 2 * rng.uniform() }
        let b = (0..<d).map { _ in 0.1 + 2 * rng.uniform() }
        let mu1 = (0..<d).map { _ in rng.normal() }
        let mu2 = (0..<d).map { _ in rng.normal() }
        let fid = try FrechetDistance.compute(mean1: mu1, covariance1: diagonal(a),
                                              mean2: mu2, covariance2: diagonal(b))
        let expected = squaredDistance(mu1, mu2)
            + zip(a, b).reduce(0) { $0 + ($1.0.squareRoot() - $1.1.squareRoot()) * ($1.0.squareRoot() - $1.1.squareRoot()) }
        #expect(abs(fid - expected) <= 1e-10 * expected, "FID \(fid), closed form \(expected)")
    }

    @Test func commutingRotatedCovariancesMatchClosedForm() throws {
        // S₁ = Q diag(a) Qᵀ, S₂ = Q diag(b) Qᵀ share eigenvectors, so
        // tr √(S₁S₂) = Σ √(aᵢbᵢ) and FID = |Δμ|² + Σ (√aᵢ − √bᵢ)².
        var rng = RandomStream(seed: 5)
        let d = 16
        let q = randomOrthogonal(d, reflections: 3, &rng)
        #expect(maxAbsDifference(matmul(q, transpose(q, d), d), diagonal([Double](repeating: 1, count: d))) < 1e-13)
        let a = (0..<d).map { _ in 0.05 + 3 * rng.uniform() }
        let b = (0..<d).map { _ in 0.05 + 3 * rng.uniform() }
        let s1 = matmul(matmul(q, diagonal(a), d), transpose(q, d), d)
        let s2 = matmul(matmul(q, diagonal(b), d), transpose(q, d), d)
        #expect(maxAbsDifference(matmul(s1, s2, d), matmul(s2, s1, d)) < 1e-12)      // they commute
        #expect(abs(s1[1]) > 1e-3)                                                    // and are not diagonal
        let mu1 = (0..<d).map { _ in rng.normal() }
        let mu2 = (0..<d).map { _ in rng.normal() }
        let fid = try FrechetDistance.compute(mean1: mu1, covariance1: s1, mean2: mu2, covariance2: s2)
        let expected = squaredDistance(mu1, mu2)
            + zip(a, b).reduce(0) { $0 + ($1.0.squareRoot() - $1.1.squareRoot()) * ($1.0.squareRoot() - $1.1.squareRoot()) }
        #expect(abs(fid - expected) <= 1e-10 * (expected + trace(s1, d) + trace(s2, d)), "FID \(fid), closed form \(expected)")
    }

    @Test func nonCommuting2x2MatchesHandDerivedValue() throws {
        // For 2x2 M = S₁S₂ with eigenvalues λ₁, λ₂ ≥ 0 (S₁, S₂ PSD):
        // (√λ₁ + √λ₂)² = tr M + 2√det M, so tr √M = √(tr(S₁S₂) + 2√(det S₁ det S₂)).
        // S₁ = [[2,1],[1,1]], S₂ = diag(1,3): S₁S₂ = [[2,3],[1,3]] ≠ S₂S₁ = [[2,1],[3,3]],
        // tr = 5, det S₁ = 1, det S₂ = 3  =>  tr √(S₁S₂) = √(5 + 2√3).
        let s1: [Double] = [2, 1, 1, 1]
        let s2: [Double] = [1, 0, 0, 3]
        #expect(matmul(s1, s2, 2) != matmul(s2, s1, 2))
        let cross = (5 + 2 * Double(3).squareRoot()).squareRoot()
        #expect(abs(try FrechetDistance.traceSqrtProduct(s1, s2, dimension: 2) - cross) < 1e-14)
        // μ₁ = (0.5, −1), μ₂ = 0: FID = 1.25 + 3 + 4 − 2√(5 + 2√3) ≈ 2.43138.
        let fid = try FrechetDistance.compute(mean1: [0.5, -1], covariance1: s1, mean2: [0, 0], covariance2: s2)
        #expect(abs(fid - (1.25 + 7 - 2 * cross)) < 1e-13, "FID \(fid)")

        // A singular S₁ = [[1,1],[1,1]] (rank 1) with S₂ = diag(2,1): tr(S₁S₂) = 3, det = 0,
        // tr √(S₁S₂) = √3. The zero eigenvalue is clamped, costing ~√ε of accuracy.
        let singular: [Double] = [1, 1, 1, 1]
        let other: [Double] = [2, 0, 0, 1]
        let singularError = try FrechetDistance.traceSqrtProduct(singular, other, dimension: 2) - Double(3).squareRoot()
        print("FID 2x2 non-commuting: error \(fid - (1.25 + 7 - 2 * cross)); singular case error \(singularError)")
        #expect(abs(singularError) < 1e-7)
    }

    @Test func symmetricInItsArguments() throws {
        // tr √(S₁S₂) = tr √(S₂S₁): the two orders go through different decompositions.
        var rng = RandomStream(seed: 6)
        let d = 24
        let s1 = randomSPD(d, &rng), s2 = randomSPD(d, &rng)
        let mu1 = (0..<d).map { _ in rng.normal() }, mu2 = (0..<d).map { _ in rng.normal() }
        let ab = try FrechetDistance.compute(mean1: mu1, covariance1: s1, mean2: mu2, covariance2: s2)
        let ba = try FrechetDistance.compute(mean1: mu2, covariance1: s2, mean2: mu1, covariance2: s1)
        #expect(maxAbsDifference(matmul(s1, s2, d), matmul(s2, s1, d)) > 1e-3)   // non-commuting
        #expect(ab > 0)
        #expect(abs(ab - ba) <= 1e-10 * (trace(s1, d) + trace(s2, d)), "\(ab) vs \(ba)")
    }

    @Test func errorsNameTheProblem() throws {
        let s: [Double] = [1, 0, 0, 1]
        #expect(throws: MetricsError.self) {
            try FrechetDistance.compute(mean1: [0, 0], covariance1: s, mean2: [0, 0, 0], covariance2: s)
        }
        #expect(throws: MetricsError.self) {
            try FrechetDistance.compute(mean1: [0, 0], covariance1: s, mean2: [0, 0], covariance2: [1, 0, 0])
        }
        #expect(throws: MetricsError.self) {
            try FrechetDistance.compute(mean1: [0, 0], covariance1: [1, .nan, .nan, 1], mean2: [0, 0], covariance2: s)
        }
        #expect(throws: MetricsError.self) {
            try FrechetDistance.compute(FeatureStatistics(dimension: 2), FeatureStatistics(dimension: 3))
        }
        let failure = MetricsError.lapackFailure(routine: "dsyevd", info: 3, context: "FID: sqrt of covariance 1")
        #expect(failure.description.contains("dsyevd"))
    }
}

@Suite struct FIDSymmetricEigenTests {
    @Test func reconstructsTheMatrix() throws {
        var rng = RandomStream(seed: 10)
        let n = 12
        var a = randomSPD(n, &rng)
        for i in 0..<n { a[i * n + i] -= 1 }   // some negative eigenvalues too
        let (values, vectors) = try SymmetricEigen.decompose(a, dimension: n)
        #expect(values == values.sorted())
        // Rows of `vectors` are orthonormal eigenvectors: V Vᵀ = I and Vᵀ Λ V = A.
        #expect(maxAbsDifference(matmul(vectors, transpose(vectors, n), n), diagonal([Double](repeating: 1, count: n))) < 1e-13)
        let rebuilt = matmul(matmul(transpose(vectors, n), diagonal(values), n), vectors, n)
        #expect(maxAbsDifference(rebuilt, a) < 1e-13)
        let valuesOnly = try SymmetricEigen.decompose(a, dimension: n, vectors: false)
        #expect(maxAbsDifference(valuesOnly.values, values) < 1e-13)
        #expect(throws: MetricsError.self) { try SymmetricEigen.decompose([1, 2, 3], dimension: 2) }
    }
}
