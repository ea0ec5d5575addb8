import Testing
@testable import Diffusion

/// n×d Float32 rows x = μ + L z (z standard normal), so features are correlated, with means
/// `meanScale`·(0.5...1.5) and spreads ~`spread`.
private func correlatedFeatures(n: Int, d: Int, meanScale: Double = 1, spread: Double = 1,
                                seed: UInt64) -> [Float] {
    var rng = RandomStream(seed: seed, key: 1)
    let mu = (0..<d).map { meanScale * (0.5 + Double($0) / Double(max(d - 1, 1))) }
    // Lower-triangular mixing with unit-ish rows: spreads stay ~`spread`.
    var l = [Double](repeating: 0, count: d * d)
    for i in 0..<d { for j in 0...i { l[i * d + j] = (i == j ? 1 : 0.3 * rng.normal()) * spread } }
    var out = [Float](repeating: 0, count: n * d)
    var z = [Double](repeating: 0, count: d)
    for r in 0..<n {
        for j in 0..<d { z[j] = rng.normal() }
        for i in 0..<d {
            var v = mu[i]
            for j in 0...i { v += l[i * d + j] * z[j] }
            out[r * d + i] = Float(v)
        }
    }
    return out
}

/// Two-pass mean and unbiased covariance in Float64: the reference.
private func twoPass(_ x: [Float], d: Int) -> (mean: [Double], covariance: [Double]) {
    let n = x.count / d
    var mean = [Double](repeating: 0, count: d)
    for r in 0..<n { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
    for j in 0..<d { mean[j] /= Double(n) }
    var c = [Double](repeating: 0, count: d * d)
    var centred = [Double](repeating: 0, count: d)
    for r in 0..<n {
        for j in 0..<d { centred[j] = Double(x[r * d + j]) - mean[j] }
        for i in 0..<d { for j in 0..<d { c[i * d + j] += centred[i] * centred[j] } }
    }
    for i in c.indices { c[i] /= Double(n - 1) }
    return (mean, c)
}

/// Accumulates `x` in uneven batches (so chunking and batch boundaries are exercised).
private func statistics(of x: [Float], d: Int, batch: Int = 777) throws -> FeatureStatistics {
    var s = FeatureStatistics(dimension: d)
    let n = x.count / d
    try x.withUnsafeBufferPointer { p in
        var start = 0
        while start < n {
            let rows = min(batch, n - start)
            try s.accumulate(features: p.baseAddress! + start * d, count: rows, dimension: d)
            start += rows
        }
    }
    return s
}

/// Largest |a − b| relative to sqrt(C_ii C_jj) (the scale of each covariance entry).
private func covarianceError(_ a: [Double], _ b: [Double], d: Int) -> Double {
    var worst = 0.0
    for i in 0..<d { for j in 0..<d {
        let scale = (b[i * d + i] * b[j * d + j]).squareRoot()
        worst = max(worst, abs(a[i * d + j] - b[i * d + j]) / scale)
    } }
    return worst
}

@Suite struct FeatureStatisticsTests {
    @Test func meanAndCovarianceMatchTwoPassAtOurFeatureScales() throws {
        // Means ~1, spreads ~1, n = 60000: the raw-sum covariance loses almost nothing.
        let d = 8, n = 60000
        let x = correlatedFeatures(n: n, d: d, seed: 7)
        let stats = try statistics(of: x, d: d)
        let reference = twoPass(x, d: d)
        #expect(stats.count == n)
        let mean = try stats.mean()
        let meanError = zip(mean, reference.mean).map { abs($0 - $1) }.max()!
        let covError = covarianceError(try stats.covariance(), reference.covariance, d: d)
        print("FeatureStatistics n=\(n) d=\(d) mean~1 spread~1: max mean error \(meanError), max relative covariance error \(covError)")
        #expect(meanError < 1e-12)
        #expect(covError < 1e-11)
    }

    @Test func precisionLossGrowsWithMeanOverSpreadButStaysSmall() throws {
        // |μ|/σ = 1000: the error is amplified by ~(μ/σ)² as documented, still far below
        // Float32 resolution of the features themselves.
        let d = 4, n = 60000
        let x = correlatedFeatures(n: n, d: d, meanScale: 1000, spread: 1, seed: 8)
        let stats = try statistics(of: x, d: d)
        let reference = twoPass(x, d: d)
        let covError = covarianceError(try stats.covariance(), reference.covariance, d: d)
        print("FeatureStatistics n=\(n) d=\(d) mean~1000 spread~1: max relative covariance error \(covError)")
        #expect(covError < 1e-6)
    }

    @Test func mergedShardsEqualTheWhole() throws {
        let d = 6
        let sizes = [1000, 2345, 17]
        let x = correlatedFeatures(n: sizes.reduce(0, +), d: d, seed: 9)
        let whole = try statistics(of: x, d: d, batch: 500)

        var shards: [FeatureStatistics] = []
        var start = 0
        for size in sizes {
            shards.append(try statistics(of: Array(x[(start * d)..<((start + size) * d)]), d: d, batch: 300))
            start += size
        }
        // What the MPI layer does: sum the packed arrays elementwise, unpack on the root.
        let length = FeatureStatistics.packedCount(dimension: d)
        #expect(shards.allSatisfy { $0.packed.count == length })
        var reduced = [Double](repeating: 0, count: length)
        for shard in shards { for i in 0..<length { reduced[i] += shard.packed[i] } }
        let unpacked = try FeatureStatistics(packed: reduced, dimension: d)

        var merged = shards[0]
        try merged.merge(shards[1])
        try merged.merge(shards[2])
        #expect(merged == unpacked)

        #expect(unpacked.count == whole.count)
        let worst = zip(unpacked.packed, whole.packed).map { abs($0 - $1) / max(abs($1), 1) }.max()!
        #expect(worst < 1e-12)
        let covError = covarianceError(try unpacked.covariance(), try whole.covariance(), d: d)
        #expect(covError < 1e-12)
    }

    @Test func packedLayout() throws {
        let d = 3
        let rows: [Float] = [1, 2, 3,
                             4, 5, 6]
        var s = FeatureStatistics(dimension: d)
        try rows.withUnsafeBufferPointer { try s.accumulate(features: $0.baseAddress!, count: 2, dimension: d) }
        #expect(s.packed == [2,
                             5, 7, 9,
                             17, 22, 27,
                             22, 29, 36,
                             27, 36, 45])
        #expect(s.sum == [5, 7, 9])
        #expect(try s.mean() == [2.5, 3.5, 4.5])
        #expect(try s.covariance() == [4.5, 4.5, 4.5, 4.5, 4.5, 4.5, 4.5, 4.5, 4.5])

        var fromTensor = FeatureStatistics(dimension: d)
        try fromTensor.accumulate(Tensor(shape: [2, 3], values: rows))
        #expect(fromTensor == s)
    }

    @Test func errors() throws {
        var s = FeatureStatistics(dimension: 2)
        #expect(throws: MetricsError.self) { try s.mean() }
        let one: [Float] = [1, 2]
        try one.withUnsafeBufferPointer { try s.accumulate(features: $0.baseAddress!, count: 1, dimension: 2) }
        #expect(try s.mean() == [1, 2])
        #expect(throws: MetricsError.tooFewSamples("unbiased covariance needs n ≥ 2 feature vectors, have 1")) {
            try s.covariance()
        }
        #expect(throws: MetricsError.self) {
            try one.withUnsafeBufferPointer { try s.accumulate(features: $0.baseAddress!, count: 1, dimension: 1) }
        }
        #expect(throws: MetricsError.self) { try s.merge(FeatureStatistics(dimension: 3)) }
        #expect(throws: MetricsError.self) { try FeatureStatistics(packed: [1, 2, 3], dimension: 2) }
        #expect(throws: MetricsError.self) { try FeatureStatistics(packed: [0.5, 0, 0, 0, 0, 0, 0], dimension: 2) }
        #expect(throws: MetricsError.self) { try s.accumulate(Tensor(shape: [2, 3])) }
    }
}
