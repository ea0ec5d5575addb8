import Foundation
import Testing
import Kernels
@testable import Diffusion

/// Fashion-MNIST exported as a PNG class folder (by our own PNG writer) is the same data as
/// the built-in IDX reader gives: the same preprocessed tensor, bit for bit, and so the same
/// loss at every step of a run with the same seed.
@Suite struct FolderParityTests {
    static let count = 256

    /// Class folder names sort in label order; "T-shirt/top" cannot be a folder name.
    static func folderName(_ k: Int) -> String {
        String(k) + "-" + FashionMNIST.classNames[k].replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: " ", with: "_")
    }

    @Test func pngClassFolderTrainsLikeTheBuiltInReader() throws {
        let fashion = try FashionMNIST.load(split: .train, directory: FashionMNIST.defaultDirectory)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<Self.count {
            try ImageSets.write(PNG.encode(Array(fashion.image(i)), width: 28, height: 28, colorType: .grayscale),
                                dir + "/" + Self.folderName(Int(fashion.labels[i])) + String(format: "/%05d.png", i))
        }
        let data = try TrainingDataLoader.load(DataSpec(path: dir), group: SingleProcess())
        #expect(data.count == Self.count && data.skipped.isEmpty)
        // The folder's order: by class, then by file name (the original index).
        let order = (0..<Self.count).sorted { (Int(fashion.labels[$0]), $0) < (Int(fashion.labels[$1]), $1) }
        #expect(data.labels == order.map { Int(fashion.labels[$0]) })

        var options = TrainingOptions()
        options.batchSize = 16
        options.maxSteps = 4
        options.seed = 7
        var config = UNetConfig.tiny
        config.sampleSize = 32
        let start = TrainingStart.new(options: options, config: config)
        let folder = try start.prepare(data, centerCrop: false, randomFlip: false)
        let builtIn = Preprocess.images(fashion, indices: order)
        #expect(folder.augmentation == nil && folder.source.shape == builtIn.shape)
        #expect(folder.source.tensor!.array == builtIn.array)

        func losses(_ images: Tensor) throws -> [Double] {
            let trainer = try start.makeTrainer(images: images, initFrom: nil, bucketFloats: 1 << 20, group: SingleProcess())
            return try (0..<4).map { _ in try trainer.trainStep().loss }
        }
        // One thread: the sums then add in one order, whatever else runs beside this test.
        let (a, b) = try Parallel.withThreads(1) { (try losses(folder.source.tensor!), try losses(builtIn)) }
        #expect(a == b && a.allSatisfy { $0.isFinite && $0 > 0 }, "\(a) vs \(b)")
    }
}
