import Foundation
import Testing
@testable import Diffusion

/// models/fashion-classifier, found from this file's path.
enum CommittedClassifier {
    static let directory: String = {
        let fixtures = PackageFixtures.directory  // <package>/Tests/Fixtures
        let tests = fixtures[..<fixtures.lastIndex(of: "/")!]
        return String(tests[..<tests.lastIndex(of: "/")!]) + "/" + ClassifierFolder.defaultDirectory
    }()
    static var exists: Bool { FileManager.default.fileExists(atPath: directory + "/" + ClassifierFolder.weightsName) }
}

@Suite(.enabled(if: CommittedClassifier.exists, "models/fashion-classifier is not there")) struct CommittedClassifierTests {
    /// The weights carry a content hash per tensor, so every FID checks them as it loads them
    /// (and prints no note about unverified weights).
    @Test func weightsCarryContentHashes() throws {
        let file = try Safetensors(contentsOf: CommittedClassifier.directory + "/" + ClassifierFolder.weightsName)
        #expect(!file.tensors.isEmpty)
        #expect(Set(file.hashes.keys) == Set(file.tensors.map(\.name)))
    }

    @Test func classifiesRealTestImages() throws {
        let model = try ClassifierFolder.load(from: CommittedClassifier.directory)
        let (images, labels) = try realImages(.test, count: 400)
        let logits = model.evaluate(images, batchSize: 100).logits
        let f = SoftmaxCrossEntropy.forward(logits: logits, labels: labels)
        let accuracy = Double(f.correct) / Double(labels.count)
        print("committed classifier: \(f.correct)/\(labels.count) = \(accuracy * 100)% of the first test images, "
              + "mean loss \(f.lossSum / Double(labels.count))")
        #expect(accuracy > 0.90)
    }

    /// Real training images against a test-image reference: a small FID, far below that of
    /// noise or of a blank image; KID in the same order.
    @Test func realImagesScoreFarBetterThanNoiseOrBlank() throws {
        let model = try ClassifierFolder.load(from: CommittedClassifier.directory)
        let n = 2000
        func statistics(_ images: Tensor) throws -> (moments: FeatureMoments, rows: [Float]) {
            let r = try ShardedFeatures.compute(localImages: images, localRange: 0..<images.shape[0], classifier: model,
                                                group: SingleProcess())
            return (try FeatureMoments(r.statistics), r.rows!.array)
        }
        let reference = try statistics(realImages(.test, count: n).images)
        let train = try statistics(realImages(.train, count: n).images)
        var rng = RandomStream(seed: 21)
        let noise = try statistics(Tensor(shape: [n, 32, 32, 1],
                                          values: (0..<(n * 1024)).map { _ in max(-0.5, min(0.5, Float(rng.normal()) * 0.3)) }))
        let blank = try statistics(Tensor(shape: [n, 32, 32, 1], values: [Float](repeating: -0.5, count: n * 1024)))

        func kid(_ s: (moments: FeatureMoments, rows: [Float])) throws -> Double {
            try KernelInceptionDistance.compute(real: reference.rows, generated: s.rows, dimension: 128,
                                                subsets: 20, subsetSize: 500).mean
        }
        let fid = (train: try train.moments.frechetDistance(to: reference.moments),
                   noise: try noise.moments.frechetDistance(to: reference.moments),
                   blank: try blank.moments.frechetDistance(to: reference.moments))
        let kids = (train: try kid(train), noise: try kid(noise), blank: try kid(blank))
        let spread = (0..<128).reduce(0.0) { $0 + reference.moments.covariance[$1 * 129] }
        print("FID vs \(n) test images: \(n) train images \(fid.train), Gaussian noise \(fid.noise), blank \(fid.blank) "
              + "(tr Σ_test = \(spread))")
        print("KID: train \(kids.train), noise \(kids.noise), blank \(kids.blank)")
        #expect(fid.train < 0.05 * spread, "real vs real should be small against the features' spread")
        #expect(fid.train * 20 < fid.noise)
        #expect(fid.train * 20 < fid.blank)
        #expect(abs(kids.train) * 20 < kids.noise)
        #expect(abs(kids.train) * 20 < kids.blank)
    }
}
