import Foundation
import Testing
@testable import Diffusion

/// Real test images (the first `count`), preprocessed as for training.
func realImages(_ split: FashionMNIST.Split, count: Int, from start: Int = 0) throws -> (images: Tensor, labels: [Int]) {
    let data = try FashionMNIST.load(split: split)
    let indices = Array(start..<min(start + count, data.count))
    return (Preprocess.images(data, indices: indices), data.labels(at: indices))
}

private func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    let scale = b.map(abs).max() ?? 1
    return zip(a, b).map { abs($0 - $1) }.max()! / scale
}

@Suite(.kernelThreads(2)) struct ShardedFeaturesTests {
    /// A fixed random classifier: what is tested is the bookkeeping, not the features.
    static func classifier() -> FashionClassifier {
        let model = FashionClassifier(config: ClassifierConfig())
        model.initializeParameters(seed: 11)
        return model
    }

    /// One rank against three (threads joined by in-memory collectives), each rank with its own
    /// classifier and contiguous share. With `batchSize` 1 on both sides every feature row is
    /// computed identically, so only the reduction differs: the sums must agree to rounding.
    /// With different batch sizes the convolutions' blocking differs too and the features
    /// agree to Float32 rounding only.
    @Test(arguments: [(1, 1, 1e-13), (64, 30, 1e-6)])
    func threeRanksGiveTheStatisticsOfOne(batchOne: Int, batchThree: Int, tolerance: Double) throws {
        let n = 203
        let images = try realImages(.test, count: n).images
        let keep: (Int) -> Bool = { $0 % 5 == 1 }
        let one = try ShardedFeatures.compute(localImages: images, localRange: 0..<n, classifier: Self.classifier(),
                                              keepRows: keep, batchSize: batchOne, group: SingleProcess())
        let three = try ThreadGroup.run(size: 3) { group -> ShardedFeatures.Result in
            let mine = EpochPlan.share(count: n, rank: group.rank, size: group.size)
            return try ShardedFeatures.compute(localImages: images.gather(Array(mine)), localRange: mine,
                                               classifier: Self.classifier(), keepRows: keep, batchSize: batchThree,
                                               group: group)
        }
        #expect(one.statistics.count == n)
        for r in 0..<3 {
            #expect(three[r].statistics.count == n)
            let diff = maxRelativeDifference(three[r].statistics.packed, one.statistics.packed)
            print("batches \(batchOne) vs \(batchThree): rank \(r) of 3 vs 1 rank, packed sums differ by \(diff) (relative to the largest)")
            #expect(diff < tolerance)
            #expect((three[r].rows == nil) == (r != 0), "rows go to rank 0 only")
        }
        let rows1 = try #require(one.rows), rows3 = try #require(three[0].rows)
        #expect(rows1.shape == [41, 128] && rows3.shape == rows1.shape)
        let rowDiff = zip(rows1.array, rows3.array).map { abs($0 - $1) }.max()!
        #expect(Double(rowDiff) <= tolerance * 10, "kept feature rows in global order, max difference \(rowDiff)")

        let m1 = try FeatureMoments(one.statistics), m3 = try FeatureMoments(three[0].statistics)
        #expect(maxRelativeDifference(m3.covariance, m1.covariance) < tolerance * 100)
        // Of two equal distributions the distance is 0 up to the rounding of the matrix square
        // root, which alone gave +-2e-11 to 7e-11 here (trace 1.23): a sign-agnostic bound
        // above that, however close the moments.
        let fd = try m1.frechetDistance(to: m3)
        #expect(abs(fd) < max(tolerance * 100, 1e-9), "Frechet distance \(fd)")
    }

    @Test func ranksOutOfOrderAreAnError() throws {
        let images = try realImages(.test, count: 4).images
        let outcome = try ThreadGroup.run(size: 2) { group -> String in
            // rank 0 holds the later images: gathering would scramble the order
            let range = group.rank == 0 ? 2..<4 : 0..<2
            do {
                _ = try ShardedFeatures.compute(localImages: images.gather(Array(range)), localRange: range,
                                                classifier: Self.classifier(), group: group)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(outcome.allSatisfy { $0.contains("ascending") }, "\(outcome)")
    }

    /// Moments of 50 random 6-wide feature rows, written to `dir`/stats.npz.
    static func writtenMoments(in dir: String) throws -> (moments: FeatureMoments, path: String) {
        var rng = RandomStream(seed: 4)
        let d = 6
        var stats = FeatureStatistics(dimension: d)
        let x = (0..<(50 * d)).map { _ in Float(rng.normal()) }
        try x.withUnsafeBufferPointer { try stats.accumulate(features: $0.baseAddress!, count: 50, dimension: d) }
        let moments = try FeatureMoments(stats)
        let path = dir + "/stats.npz"
        try moments.write(npz: path)
        return (moments, path)
    }

    @Test func statisticsFileRoundTrips() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (moments, path) = try Self.writtenMoments(in: dir)
        #expect(try FeatureMoments.read(npz: path) == moments)
    }

    @Test(.enabled(if: Python.hasNumpy, "numpy is not importable: skipping numpy's reading of the statistics file"))
    func numpyReadsTheStatisticsFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (moments, path) = try Self.writtenMoments(in: dir)
        let d = 6
        let seen = try Python.json("numpy_check.py", ["read", path]) as! [String: Any]
        let arrays = seen[path] as! [String: Any]
        let mu = arrays["mu"] as! [String: Any], sigma = arrays["sigma"] as! [String: Any], n = arrays["n"] as! [String: Any]
        #expect(mu["dtype"] as? String == "<f8" && sigma["dtype"] as? String == "<f8")
        #expect(ints(mu["shape"]) == [d] && ints(sigma["shape"]) == [d, d] && ints(n["shape"]) == [])
        // JSON in between: equal up to the last bit of the text conversion
        func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-15 * (1 + abs($1)) } }
        #expect(close(doubles(mu["values"]), moments.mean))
        #expect(close(doubles(sigma["values"]), moments.covariance))
        #expect(doubles(n["values"]) == [50])
    }
}
