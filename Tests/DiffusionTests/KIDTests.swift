import Testing
@testable import Diffusion

/// n×d rows looking like pooled ReLU features: max(0, 1 + z) + shift, z standard normal.
private func featureRows(n: Int, d: Int, shift: Float = 0, seed: UInt64) -> [Float] {
    var rng = RandomStream(seed: seed, key: 2)
    return (0..<(n * d)).map { _ in max(0, Float(1 + rng.normal())) + shift }
}

/// MMD²ᵤ straight from the definition, O(m²d) in Float64: the reference.
private func directMMD2(_ x: [[Double]], _ y: [[Double]]) -> Double {
    let m = x.count, d = x[0].count
    func k(_ a: [Double], _ b: [Double]) -> Double {
        var dot = 0.0
        for j in 0..<d { dot += a[j] * b[j] }
        let t = dot / Double(d) + 1
        return t * t * t
    }
    var sxx = 0.0, syy = 0.0, sxy = 0.0
    for i in 0..<m {
        for j in 0..<m {
            if i != j { sxx += k(x[i], x[j]); syy += k(y[i], y[j]) }
            sxy += k(x[i], y[j])
        }
    }
    let mm = Double(m)
    return (sxx + syy) / (mm * (mm - 1)) - 2 * sxy / (mm * mm)
}

private func rows(_ flat: [Float], d: Int, picking pick: some Sequence<Int>) -> [[Double]] {
    pick.map { i in (0..<d).map { Double(flat[i * d + $0]) } }
}

@Suite struct KIDTests {
    @Test func wholeSetSubsetsMatchDirectComputation() throws {
        // subsetSize = n: every subset is the whole set reordered, and MMD²ᵤ is order-free.
        let n = 30, d = 5
        let real = featureRows(n: n, d: d, seed: 1)
        let generated = featureRows(n: n, d: d, shift: 0.3, seed: 2)
        let expected = directMMD2(rows(real, d: d, picking: 0..<n), rows(generated, d: d, picking: 0..<n))
        let kid = try KernelInceptionDistance.compute(real: real, generated: generated, dimension: d,
                                                      subsets: 4, subsetSize: n, seed: 3)
        print("KID whole set: \(kid.mean) vs direct \(expected), std \(kid.std)")
        #expect(abs(kid.mean - expected) <= 1e-12 * max(abs(expected), 1))
        #expect(kid.std <= 1e-12)
    }

    @Test func subsetScoresMatchDirectComputationOnDocumentedSubsets() throws {
        // Subset s takes the first m of RandomStream(seed, key: s).permutation(n₁), then the
        // first m of the same stream's permutation(n₂) — as the doc comment promises.
        let n1 = 25, n2 = 31, d = 7, m = 10, seed: UInt64 = 42
        let real = featureRows(n: n1, d: d, seed: 4)
        let generated = featureRows(n: n2, d: d, shift: 0.2, seed: 5)
        let scores = try KernelInceptionDistance.subsetScores(real: real, generated: generated, dimension: d,
                                                              subsets: 5, subsetSize: m, seed: seed)
        #expect(scores.count == 5)
        for s in 0..<5 {
            var rng = RandomStream(seed: seed, key: UInt64(s))
            let x = rows(real, d: d, picking: rng.permutation(n1).prefix(m))
            let y = rows(generated, d: d, picking: rng.permutation(n2).prefix(m))
            let expected = directMMD2(x, y)
            #expect(abs(scores[s] - expected) <= 1e-12 * max(abs(expected), 1), "subset \(s): \(scores[s]) vs \(expected)")
        }
        let kid = try KernelInceptionDistance.compute(real: real, generated: generated, dimension: d,
                                                      subsets: 5, subsetSize: m, seed: seed)
        let mean = scores.reduce(0, +) / 5
        let std = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 5).squareRoot()
        #expect(abs(kid.mean - mean) < 1e-15 && abs(kid.std - std) < 1e-15)
    }

    @Test func identicalDistributionsGiveNearZero() throws {
        let d = 16
        let real = featureRows(n: 1500, d: d, seed: 6)
        let generated = featureRows(n: 1200, d: d, seed: 7)
        let kid = try KernelInceptionDistance.compute(real: real, generated: generated, dimension: d,
                                                      subsets: 40, subsetSize: 300, seed: 8)
        print("KID same distribution: mean \(kid.mean), std \(kid.std)")
        #expect(kid.std > 0)
        #expect(abs(kid.mean) < 3 * kid.std)
    }

    @Test func shiftedDistributionsGiveClearlyPositive() throws {
        let d = 16
        let real = featureRows(n: 1500, d: d, seed: 6)
        func kid(shift: Float) throws -> (mean: Double, std: Double) {
            try KernelInceptionDistance.compute(real: real, generated: featureRows(n: 1200, d: d, shift: shift, seed: 7),
                                                dimension: d, subsets: 40, subsetSize: 300, seed: 8)
        }
        let same = try kid(shift: 0), shifted = try kid(shift: 0.25)
        print("KID shifted by 0.25: mean \(shifted.mean), std \(shifted.std)")
        #expect(shifted.mean > 5 * shifted.std)
        #expect(shifted.mean > 10 * (abs(same.mean) + same.std))
    }

    @Test func seededAndIndependentOfThreadCount() throws {
        let d = 8
        let real = featureRows(n: 200, d: d, seed: 9)
        let generated = featureRows(n: 150, d: d, shift: 0.1, seed: 10)
        func run(seed: UInt64) throws -> [Double] {
            try KernelInceptionDistance.subsetScores(real: real, generated: generated, dimension: d,
                                                     subsets: 8, subsetSize: 50, seed: seed)
        }
        let one = try Parallel.withThreads(1) { try run(seed: 11) }
        let two = try Parallel.withThreads(2) { try run(seed: 11) }
        #expect(one == two)
        #expect(try run(seed: 12) != one)

        // Default subset size is min(1000, n₁, n₂) = 150 here.
        let byDefault = try KernelInceptionDistance.compute(real: real, generated: generated, dimension: d,
                                                            subsets: 3, seed: 11)
        let explicit = try KernelInceptionDistance.compute(real: real, generated: generated, dimension: d,
                                                           subsets: 3, subsetSize: 150, seed: 11)
        #expect(byDefault == explicit)
    }

    @Test func errors() throws {
        let real = featureRows(n: 10, d: 4, seed: 1)
        let generated = featureRows(n: 8, d: 4, seed: 2)
        #expect(throws: MetricsError.self) {   // subset larger than the generated set
            try KernelInceptionDistance.compute(real: real, generated: generated, dimension: 4, subsetSize: 9)
        }
        #expect(throws: MetricsError.self) {
            try KernelInceptionDistance.compute(real: real, generated: generated, dimension: 4, subsetSize: 1)
        }
        #expect(throws: MetricsError.self) {   // not whole rows
            try KernelInceptionDistance.compute(real: real, generated: Array(generated.dropLast()), dimension: 4)
        }
        #expect(throws: MetricsError.self) {
            try KernelInceptionDistance.compute(real: real, generated: generated, dimension: 4, subsets: 0)
        }
        var bad = generated
        bad[5] = .nan
        #expect(throws: MetricsError.self) {
            try KernelInceptionDistance.compute(real: real, generated: bad, dimension: 4)
        }
    }
}
