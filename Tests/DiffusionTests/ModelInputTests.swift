import Foundation
import Testing
@testable import Diffusion

/// Batches the U-Net cannot take are refused at the entry of forward, with the sizes that
/// would work, as diffusers raises for them; sizes it can take (any multiple of 2^(levels-1),
/// not only sample_size, not only square) go through with the input's shape.
@Suite struct ModelInputTests {
    /// 4 levels, as the seed model: sizes must be multiples of 8.
    static let fourLevels = UNetConfig(
        sampleSize: 32, inChannels: 1, outChannels: 1, blockOutChannels: [8, 8, 8, 8],
        downBlockTypes: [.down, .down, .down, .attnDown], upBlockTypes: [.attnUp, .up, .up, .up],
        layersPerBlock: 1, attentionHeadDim: 8, normNumGroups: 4)

    func model(_ config: UNetConfig) throws -> UNet2DModel {
        let m = try UNet2DModel(config: config)
        m.initializeParameters(seed: 1)
        return m
    }

    func input(_ shape: [Int]) -> Tensor {
        let x = Tensor(shape: shape)
        var rng = RandomStream(seed: 5)
        rng.fillNormal(x.data, count: x.count)
        return x
    }

    @Test func sizesThatAreNotMultiplesNameTheNearestValidOnes() throws {
        let m = try model(Self.fourLevels)
        let error = #expect(throws: ModelInputError.self) { try m.forward(input([1, 30, 32, 1]), timesteps: [10]) }
        #expect(error == .spatial(dimension: "height", size: 30, multiple: 8, downBlocks: 4))
        #expect(error?.description.contains("height 30 must be a positive multiple of 8 for 4 down blocks") == true)
        #expect(error?.description.hasSuffix(": 24 or 32") == true, "\(String(describing: error))")
        let width = #expect(throws: ModelInputError.self) { try m.forward(input([1, 16, 20, 1]), timesteps: [10]) }
        #expect(width?.description.hasSuffix("width 20 must be a positive multiple of 8 for 4 down blocks (each but the last halves it): 16 or 24") == true,
                "\(String(describing: width))")
    }

    @Test(arguments: [[1, 1, 1, 1], [1, 0, 0, 1], [2, 3, 8, 1], [1, 8, 0, 1]])
    func tinyAndEmptyImagesAreRefused(_ shape: [Int]) throws {
        let m = try model(Self.fourLevels)
        let error = #expect(throws: ModelInputError.self) { try m.forward(input(shape), timesteps: [Float](repeating: 3, count: shape[0])) }
        guard case .spatial(_, _, let multiple, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(multiple == 8)
        #expect(error?.description.hasSuffix(": 8") == true, "\(String(describing: error))")
    }

    @Test func emptyBatchWrongChannelsAndTimestepsAreRefused() throws {
        let m = try model(.tiny)
        #expect(throws: ModelInputError.emptyBatch) { try m.forward(input([0, 16, 16, 1]), timesteps: []) }
        #expect(throws: ModelInputError.channels(found: 3, inChannels: 1)) { try m.forward(input([1, 16, 16, 3]), timesteps: [1]) }
        #expect(throws: ModelInputError.rank(shape: [16, 16])) { try m.forward(input([16, 16]), timesteps: [1]) }
        #expect(throws: ModelInputError.timesteps(count: 1, batch: 2)) { try m.forward(input([2, 16, 16, 1]), timesteps: [1]) }
        let nan = #expect(throws: ModelInputError.self) { try m.forward(input([1, 16, 16, 1]), timesteps: [.nan]) }
        #expect(nan?.description.contains("nan") == true)
    }

    /// diffusers runs any multiple of 2^(levels-1): the output has the input's shape and
    /// each image is computed on its own (the same as in a batch of one).
    @Test func otherValidSizesWork() throws {
        let m = try model(Self.fourLevels)
        let x = input([2, 8, 24, 1])
        let y = try m.forward(x, timesteps: [5, 900])
        #expect(y.shape == [2, 8, 24, 1])
        #expect(y.array.allSatisfy { $0.isFinite })
        let alone = try m.forward(x.gather([1]), timesteps: [900])
        let second = Array(y.array[(8 * 24)...])
        #expect(zip(alone.array, second).map { abs($0 - $1) }.max()! < 1e-5)
    }

    /// `predict` reads [B, C, H, W] from a file: a wrong size names the file and the sizes.
    @Test func predictNamesTheFileAndTheValidSizes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("predict-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try model(.tiny)  // 3 levels: multiples of 4
        try Safetensors.write([(name: "sample", tensor: input([1, 1, 6, 8])), (name: "timestep", tensor: Tensor(shape: [1], values: [3]))],
                              metadata: [:], to: dir + "/in.safetensors")
        let error = #expect(throws: FileError.self) {
            try Prediction.run(model: m, inputPath: dir + "/in.safetensors", outputPath: dir + "/out.safetensors")
        }
        #expect(error?.path == dir + "/in.safetensors")
        #expect(error?.message.contains("height 6 must be a positive multiple of 4 for 3 down blocks") == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix(": 4 or 8") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.safetensors"))

        try Safetensors.write([(name: "sample", tensor: input([0, 1, 8, 8])), (name: "timestep", tensor: Tensor(shape: [0]))],
                              metadata: [:], to: dir + "/empty.safetensors")
        let empty = #expect(throws: FileError.self) {
            try Prediction.run(model: m, inputPath: dir + "/empty.safetensors", outputPath: dir + "/out.safetensors")
        }
        #expect(empty?.message.contains("no images") == true, "\(String(describing: empty))")
    }
}
