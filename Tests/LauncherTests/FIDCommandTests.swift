import Diffusion
import Foundation
import Testing

/// `launcher fid` and `launcher sample --fid` under mpirun, with the committed classifier and
/// a small reference (the first 1000 test images) cached in a temporary folder.
enum CommittedClassifier {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/" + ClassifierFolder.defaultDirectory
    }()
    static var exists: Bool { FileManager.default.fileExists(atPath: directory + "/" + ClassifierFolder.weightsName) }
}

@Suite(.serialized, .enabled(if: CommittedClassifier.exists, "models/fashion-classifier is not there")) struct FIDCommandTests {
    static let classifier = CommittedClassifier.directory

    /// Test images start..<start+count as a .npy in `launcher sample`'s layout ([n, 32, 32]).
    static func writeSamples(_ path: String, count: Int, start: Int) throws {
        let data = try FashionMNIST.load(split: .test)
        let images = Preprocess.images(data, indices: Array(start..<(start + count)))
        try NPY.write(images.reshaped([count, 32, 32]), to: path)
    }

    static func value(_ run: MPIRun, _ prefix: String) -> Double? {
        guard let line = run.lines.first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Double(line.dropFirst(prefix.count).split(separator: " ").first ?? "")
    }

    func fid(_ arguments: [String], ranks: Int) throws -> MPIRun {
        let run = try MPIRun.launcher(["fid", "--classifier", Self.classifier, "--reference-limit", "1000",
                                       "--kid-subsets", "20", "--threads", "1"] + arguments, ranks: ranks, timeout: 600)
        #expect(run.status == 0, "stdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
        return run
    }

    @Test func oneAndThreeRanksAgreeAndTheCacheIsReused() throws {
        let dir = NSTemporaryDirectory() + "fid-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let samples = dir + "/samples.npy"
        try Self.writeSamples(samples, count: 300, start: 5000)

        let one = try fid(["--samples", samples, "--cache-dir", dir + "/one", "--write-statistics", dir + "/one.npz"], ranks: 1)
        let three = try fid(["--samples", samples, "--cache-dir", dir + "/three", "--write-statistics", dir + "/three.npz"], ranks: 3)
        print("1 rank:\n\(one.stdout)\n3 ranks:\n\(three.stdout)")
        #expect(one.stdout.contains("computed now") && three.stdout.contains("computed now"))
        let fid1 = try #require(Self.value(one, "FID: ")), fid3 = try #require(Self.value(three, "FID: "))
        let kid1 = try #require(Self.value(one, "KID: ")), kid3 = try #require(Self.value(three, "KID: "))
        #expect(abs(fid1 - fid3) <= 1e-3 * max(1, fid1))
        #expect(abs(kid1 - kid3) <= 1e-4)
        #expect(one.stdout.contains("samples: n = 300, feature width 128"))
        #expect(!one.stdout.contains("warning"))

        // The statistics written by 1 and by 3 ranks, samples' and reference's, agree.
        let s1 = try FeatureMoments.read(npz: dir + "/one.npz"), s3 = try FeatureMoments.read(npz: dir + "/three.npz")
        #expect(s1.count == 300 && s3.count == 300)
        // Equal up to Float32 rounding of the features (batch boundaries differ between the runs).
        func close(_ a: [Double], _ b: [Double]) -> Bool {
            let scale = b.map(abs).max() ?? 1
            return a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * scale }
        }
        #expect(close(s1.mean, s3.mean) && close(s1.covariance, s3.covariance))
        let cached1 = try FileManager.default.contentsOfDirectory(atPath: dir + "/one").sorted()
        let cached3 = try FileManager.default.contentsOfDirectory(atPath: dir + "/three").sorted()
        #expect(cached1 == cached3 && cached1.count == 2, "\(cached1) \(cached3)")
        let npz = try #require(cached1.first { $0.hasSuffix(".npz") })
        #expect(npz.hasPrefix("reference-test-first1000-"))
        let r1 = try FeatureMoments.read(npz: dir + "/one/" + npz), r3 = try FeatureMoments.read(npz: dir + "/three/" + npz)
        #expect(r1.count == 1000 && close(r1.mean, r3.mean) && close(r1.covariance, r3.covariance))

        // A second run finds the cache; statistics in, FID out (no KID without rows).
        let again = try fid(["--samples", samples, "--cache-dir", dir + "/one"], ranks: 2)
        #expect(again.stdout.contains("(cached: "))
        #expect(Self.value(again, "FID: ").map { abs($0 - fid1) <= 1e-3 * max(1, fid1) } == true)
        let fromStatistics = try fid(["--samples", dir + "/one.npz", "--cache-dir", dir + "/one"], ranks: 2)
        #expect(Self.value(fromStatistics, "FID: ").map { abs($0 - fid1) <= 1e-3 * max(1, fid1) } == true)
        #expect(fromStatistics.stdout.contains("KID: not available"))
    }

    @Test func fewerImagesThanFeaturesWarnsRealImagesAsSamples() throws {
        let dir = NSTemporaryDirectory() + "fid-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try fid(["--samples", "real:train", "--samples-limit", "100", "--cache-dir", dir], ranks: 2)
        #expect(run.lines.contains("samples: the first 100 real Fashion-MNIST train images"), "\(run.stdout)")
        #expect(run.lines.contains { $0.hasPrefix("warning: n = 100 generated images is smaller than the feature width 128") },
                "\(run.stdout)")
        #expect(Self.value(run, "FID: ") != nil)
    }

    @Test func sampleWithFIDKeepsImagesOnTheirRanks() throws {
        let dir = NSTemporaryDirectory() + "fid-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MPIRun.launcher(["train", "--preset", "tiny", "--train-subset", "16", "--batch-size", "8",
                                         "--max-steps", "1", "--samples", "0", "--out", dir + "/run"], ranks: 1, timeout: 300)
        #expect(train.status == 0, "stdout:\n\(train.stdout)\nstderr:\n\(train.stderr)")
        let sample = try MPIRun.launcher(["sample", "--model", dir + "/run/model", "--n", "6", "--sampler", "ddim",
                                          "--steps", "2", "--out", dir + "/samples", "--fid", "--classifier", Self.classifier,
                                          "--reference-limit", "200", "--cache-dir", dir, "--kid-subsets", "5"],
                                         ranks: 2, timeout: 600)
        #expect(sample.status == 0, "stdout:\n\(sample.stdout)\nstderr:\n\(sample.stderr)")
        print(sample.stdout)
        #expect(sample.stdout.contains("samples: n = 6, feature width 128"))
        #expect(Self.value(sample, "FID: ") != nil && Self.value(sample, "KID: ") != nil)
        #expect(sample.stdout.contains("warning: n = 6 generated images"))
        let written = try FeatureMoments.read(npz: dir + "/samples/samples_statistics.npz")
        #expect(written.count == 6 && written.dimension == 128)
    }
}
