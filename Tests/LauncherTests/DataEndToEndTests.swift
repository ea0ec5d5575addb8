import Diffusion
import Foundation
import Testing

/// `train --data` through the launcher: a generated RGB class folder trains, samples RGB
/// grids and takes class names; a folder of mixed sizes with random crops and flips trains to
/// the same parameters at 1, 2 and 3 ranks.
@Suite(.serialized) struct DataEndToEndTests {
    func temporaryDirectory() -> String { GeneratedShapes.temporaryDirectory() }
    func write(_ bytes: [UInt8], _ path: String) throws { try GeneratedShapes.write(bytes, path) }
    func shapes(in folder: String, count: Int) throws { try GeneratedShapes.shapes(in: folder, count: count) }
    func rgbConfig(_ dir: String, size: Int) throws -> String { try GeneratedShapes.rgbConfig(dir, size: size) }

    func pngColorType(_ path: String) throws -> UInt8 {
        let bytes = try FileBytes.read(path)
        try #require(bytes.count > 26)
        return bytes[25]
    }

    @Test func rgbShapesTrainSampleAndTakeClassNames() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try shapes(in: dir + "/shapes", count: 24)
        try write(Array("made by the test".utf8), dir + "/shapes/README.txt")
        let train = try MPIRun.launcher(["train", "--data", dir + "/shapes", "--config", try rgbConfig(dir, size: 16), "--conditional",
                                         "--random-flip", "--batch-size", "8", "--max-steps", "3", "--samples", "4",
                                         "--sampler", "ddim", "--threads", "1", "--out", dir + "/run"], ranks: 2, timeout: 600)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("24 image(s)") && train.stdout.contains("2 classes (disc, square)")
                && train.stdout.contains("skipped 1 non-image file"), "\(train.stdout)")
        #expect(try pngColorType(dir + "/run/samples.png") == 2)
        let record = try #require(try DataRecord.read(from: dir + "/run"))
        #expect(record.classNames == ["disc", "square"] && record.count == 24 && record.channels == 3 && record.contentHash != nil)

        let sample = try MPIRun.launcher(["sample", "--model", dir + "/run", "--class", "Square", "--sampler", "ddim", "--steps", "3",
                                          "--n", "2", "--threads", "1", "--out", dir + "/s"], ranks: 1, timeout: 600)
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(try NPY.read(dir + "/s/samples.npy").shape == [2, 3, 16, 16])
        let wrong = try MPIRun.launcher(["sample", "--model", dir + "/run", "--class", "circle", "--n", "2", "--out", dir + "/w"], ranks: 1)
        #expect(wrong.status != 0 && wrong.stderr.contains("'disc', 'square'"), "\(wrong.stderr)")

        // FID against the shapes, with a classifier trained on them (it records what it was trained on).
        let classifier = try GeneratedShapes.trainClassifier(data: dir + "/shapes", out: dir + "/classifier")
        #expect(classifier.status == 0, "\(classifier.stderr)")
        #expect(try DataRecord.read(from: dir + "/classifier")?.contentHash == record.contentHash)
        let fid = try MPIRun.launcher(["sample", "--model", dir + "/run", "--class", "all", "--sampler", "ddim", "--steps", "3", "--n", "4",
                                       "--fid", "--reference", dir + "/shapes", "--classifier", dir + "/classifier", "--kid-subset-size", "4",
                                       "--threads", "1", "--out", dir + "/f"], ranks: 2, timeout: 600)
        #expect(fid.status == 0 && fid.stdout.contains("FID: ") && fid.stdout.contains("reference: folder \(dir)/shapes, 24 images"),
                "\(fid.stdout)\n\(fid.stderr)")
        // The Fashion-MNIST classifier is refused for other data, and a classifier of other data for Fashion-MNIST.
        let fashion = try MPIRun.launcher(["fid", "--samples", dir + "/f/samples.npy", "--reference", dir + "/shapes"], ranks: 1)
        #expect(fashion.status != 0 && fashion.stderr.contains("trained on Fashion-MNIST"), "\(fashion.stderr)")
        let other = try MPIRun.launcher(["fid", "--samples", dir + "/f/samples.npy", "--classifier", dir + "/classifier"], ranks: 1)
        #expect(other.status != 0 && other.stderr.contains("not Fashion-MNIST"), "\(other.stderr)")
    }

    @Test func sameParametersAtOneTwoAndThreeRanksOnAFolder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Gray images of three sizes (landscape, portrait, square): random crops along the long side.
        for i in 0..<30 {
            let (w, h) = [(24, 16), (16, 20), (16, 16)][i % 3]
            var pixels = [UInt8](repeating: 0, count: w * h)
            for p in pixels.indices { pixels[p] = UInt8((p * (i + 3)) % 251) }
            try write(PNG.encode(pixels, width: w, height: h, colorType: .grayscale), dir + String(format: "/set/%02d.png", i))
        }
        var results: [[Float]] = []
        func losses(_ out: String) throws -> [String] {
            try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst()
                .map { String($0.split(separator: ",")[2]) }
        }
        for ranks in 1...3 {
            // Held in memory (decoded without the cache), then streamed from the decoded cache:
            // the same losses step by step and the same parameters, bit for bit.
            let common = ["train", "--data", dir + "/set", "--preset", "tiny", "--random-flip", "--batch-size", "10",
                          "--max-steps", "3", "--samples", "0", "--threads", "1"]
            let out = dir + "/np\(ranks)", streamedOut = dir + "/np\(ranks)-streamed"
            let run = try MPIRun.launcher(common + ["--no-data-cache", "--out", out], ranks: ranks, timeout: 600)
            #expect(run.status == 0, "np=\(ranks): \(run.stderr)")
            #expect(run.stdout.contains("decoded (8-bit, in memory)") && run.stdout.contains("prepared (float32 30x32x48x1)"), "\(run.stdout)")
            let streamed = try MPIRun.launcher(common + ["--data-cache", dir + "/cache", "--data-memory", "0", "--out", streamedOut],
                                               ranks: ranks, timeout: 600)
            #expect(streamed.status == 0, "np=\(ranks): \(streamed.stderr)")
            #expect(streamed.stdout.contains("mapped from \(dir)/cache/folder-") && streamed.stdout.contains("streamed: the prepared set"),
                    "\(streamed.stdout)")
            #expect(streamed.stdout.contains(ranks == 1 ? "decoded images cached in" : "decoded images from the cache"), "\(streamed.stdout)")
            let parameters = try Safetensors(contentsOf: out + "/training_state.safetensors").tensor(named: "parameters").array
            #expect(try Safetensors(contentsOf: streamedOut + "/training_state.safetensors").tensor(named: "parameters").array == parameters,
                    "np=\(ranks)")
            #expect(try losses(out) == losses(streamedOut) && losses(out).count == 3, "np=\(ranks)")
            results.append(parameters)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").count == 1, "one cache file, no leftovers")
        for ranks in 2...3 {
            var num = 0.0, den = 0.0
            for (a, b) in zip(results[0], results[ranks - 1]) { num += Double(a - b) * Double(a - b); den += Double(a) * Double(a) }
            #expect((num / den).squareRoot() < 1e-5, "np=\(ranks)")
        }
    }

    @Test func refusals() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let empty = try MPIRun.launcher(["train", "--data", dir + "/empty", "--preset", "tiny", "--out", dir + "/r"], ranks: 2)
        #expect(empty.status != 0 && empty.stderr.contains("empty: no images"), "\(empty.stderr)")
        // Unlabelled data cannot train a conditional model.
        try write(PNG.encode([UInt8](repeating: 3, count: 64), width: 8, height: 8, colorType: .grayscale), dir + "/flat/a.png")
        let conditional = try MPIRun.launcher(["train", "--data", dir + "/flat", "--preset", "tiny", "--conditional", "--out", dir + "/r"], ranks: 1)
        #expect(conditional.status != 0 && conditional.stderr.contains("--conditional needs labels"), "\(conditional.stderr)")
        // Nor a classifier (and so no FID against it).
        let classifier = try MPIRun.launcher(["train-classifier", "--data", dir + "/flat", "--out", dir + "/c"], ranks: 1)
        #expect(classifier.status != 0 && classifier.stderr.contains("has no labels"), "\(classifier.stderr)")
    }
}
