import Foundation
import Testing
@testable import Diffusion

/// Training images streamed batch by batch (`--data-memory`) against the prepared tensor
/// held in memory: the same batches and the same training, bit for bit, at 1, 2 and 3 ranks.
@Suite struct StreamedTrainingTests {
    /// Gray images of three sizes (landscape, portrait, square) and one RGB image.
    func folder(_ dir: String) throws -> String {
        let root = dir + "/images"
        for i in 0..<11 {
            let (w, h) = [(9, 6), (6, 8), (6, 6)][i % 3]
            try ImageSets.write(ImageSets.grayPNG(width: w, height: h) { x, y in UInt8((x * 37 + y * 11 + i * 23) % 256) },
                                root + String(format: "/%02d.png", i))
        }
        try ImageSets.write(PNG.encode((0..<(7 * 5 * 3)).map { UInt8($0 * 5 % 256) }, width: 7, height: 5, colorType: .rgb), root + "/rgb.png")
        return root
    }

    func options() -> TrainingOptions {
        var options = TrainingOptions()
        options.batchSize = 5
        options.maxSteps = 4
        options.seed = 9
        return options
    }

    @Test(arguments: [(false, false), (false, true), (true, true)])
    func batchesAreTheSameBitForBit(centerCrop: Bool, randomFlip: Bool) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try TrainingDataLoader.load(DataSpec(path: try folder(dir), cacheDirectory: dir + "/cache"), group: SingleProcess())
        #expect(data.images.mappedPath != nil)
        let start = TrainingStart.new(options: options(), config: TinyTraining.config)
        let held = try start.prepare(data, centerCrop: centerCrop, randomFlip: randomFlip)
        let streamed = try start.prepare(data, centerCrop: centerCrop, randomFlip: randomFlip, memoryLimit: 0)
        #expect(held.source.tensor != nil && streamed.source.tensor == nil)
        #expect(held.source.shape == streamed.source.shape && held.preparedBytes == streamed.preparedBytes)
        #expect(held.source.shape == [12, 4, centerCrop ? 4 : 6, 1], "random crops keep the long side (9x6 -> 6x4)")
        #expect(held.augmentation == streamed.augmentation)
        #expect(streamed.source.residentBytes == 0, "the decoded images are mapped, the batches prepared as they come")
        #expect(held.source.residentBytes == held.preparedBytes)
        var random = RandomStream(seed: 4)
        for _ in 0..<5 {
            let indices = Array(random.permutation(12).prefix(4))
            let keys = (0..<4).map { _ in UInt64(random.int(below: 1000)) }
            let a = held.source.batch(indices: indices, keys: keys, seed: 9)
            let b = streamed.source.batch(indices: indices, keys: keys, seed: 9)
            #expect(a.shape == [4, 4, 4, 1] && a.shape == b.shape)
            #expect(a.array == b.array, "indices \(indices)")
        }
    }

    @Test func trainingIsTheSameBitForBitAtOneTwoAndThreeRanks() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try TrainingDataLoader.load(DataSpec(path: try folder(dir), cacheDirectory: dir + "/cache"), group: SingleProcess())
        let options = options()
        func run(ranks: Int, memoryLimit: Int?) throws -> (losses: [Double], parameters: [Float], streamed: Bool) {
            // One thread per rank: the sums then add in one order, whatever else runs beside this test.
            try Parallel.withThreads(1) {
                try ThreadGroup.run(size: ranks) { group in
                    let start = TrainingStart.new(options: options, config: TinyTraining.config)
                    let prepared = try start.prepare(data, centerCrop: false, randomFlip: true, memoryLimit: memoryLimit)
                    let trainer = try start.makeTrainer(source: prepared.source, initFrom: nil, bucketFloats: 1 << 20, group: group)
                    let losses = try (0..<4).map { _ in try trainer.trainStep().loss }
                    return (losses, trainer.model.store.valueArray, prepared.source.tensor == nil)
                }[0]
            }
        }
        var first: [Double] = []
        for ranks in 1...3 {
            let held = try run(ranks: ranks, memoryLimit: nil)
            let streamed = try run(ranks: ranks, memoryLimit: 0)
            #expect(!held.streamed && streamed.streamed)
            #expect(held.losses == streamed.losses, "np=\(ranks): \(held.losses) vs \(streamed.losses)")
            #expect(held.parameters == streamed.parameters, "np=\(ranks)")
            #expect(held.losses.allSatisfy { $0.isFinite && $0 > 0 })
            if ranks == 1 { first = held.losses }
            for (a, b) in zip(first, held.losses) { #expect(abs(a - b) <= 1e-5 * abs(a), "np=\(ranks) against np=1") }
        }
    }
}
