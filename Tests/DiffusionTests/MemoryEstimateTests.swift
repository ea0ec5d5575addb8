import Foundation
import Testing
@testable import Diffusion

/// Sizes from configs, flags and files are overflow-checked and estimated before anything is
/// allocated: absurd requests stop at once with an error that names what to change.
@Suite struct MemoryEstimateTests {
    /// Configs of different shapes: presets, one resnet per block, three, no attention anywhere, RGB.
    static var configs: [UNetConfig] {
        var list: [UNetConfig] = [.seed, .small, .tiny]
        var one = UNetConfig.tiny; one.layersPerBlock = 1; one.addAttention = false; list.append(one)
        var three = UNetConfig.small; three.layersPerBlock = 3; three.inChannels = 3; three.outChannels = 2; list.append(three)
        var plain = UNetConfig.tiny
        plain.downBlockTypes = [.down, .down, .down]; plain.upBlockTypes = [.up, .up, .up]; plain.blockOutChannels = [8, 24, 16]
        list.append(plain)
        return list
    }

    @Test func closedFormParameterCountMatchesTheBuiltModel() throws {
        for config in Self.configs {
            let model = try UNet2DModel(config: config)
            #expect(config.checkedParameterCount.value == model.store.count, "\(config.blockOutChannels) L=\(config.layersPerBlock)")
            #expect(config.checkedParameterCount.value == config.parameterCount)
        }
        let rgb = try UNetConfig.load(contentsOf: PackageFixtures.path("tiny-rgb/config.json"))
        let file = try Safetensors(contentsOf: PackageFixtures.path("tiny-rgb/diffusion_pytorch_model.safetensors"))
        #expect(rgb.checkedParameterCount.value == file.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) })
        #expect(rgb.checkedParameterCount.value == 74_683)  // diffusers' num_parameters(), printed by make_tiny_rgb.py
    }

    @Test func estimatesGrowWithBatchAndTraining() {
        let c = UNetConfig.small
        let model = c.memoryEstimate(batch: 0, training: false)
        #expect(model.parameterBytes.value == 8 * 3_983_009 && model.activationBytes.value == 0)
        let infer = c.memoryEstimate(batch: 10, training: false), train = c.memoryEstimate(batch: 10, training: true)
        #expect(train.parameterBytes.value == 16 * 3_983_009)
        #expect(train.activationBytes.value! > 3 * infer.activationBytes.value!)
        #expect(c.memoryEstimate(batch: 20, training: true).activationBytes.value == 2 * train.activationBytes.value!)
        // Four times the pixels, four times the activations.
        let big = c.memoryEstimate(batch: 10, height: 64, width: 64, training: true)
        #expect(big.activationBytes.value == 4 * train.activationBytes.value!)
        print("small, batch 128: training", c.memoryEstimate(batch: 128, training: true),
              "; inference batch 256", c.memoryEstimate(batch: 256, training: false))
        print("seed, batch 128: training", UNetConfig.seed.memoryEstimate(batch: 128, training: true),
              "; inference batch 256", UNetConfig.seed.memoryEstimate(batch: 256, training: false))
    }

    static func refusedModel(_ edit: (inout UNetConfig) -> Void) -> Error? {
        var config = UNetConfig.small
        edit(&config)
        do { _ = try UNet2DModel(config: config) } catch { return error }
        return nil
    }

    @Test func absurdModelsAreRefusedBeforeAllocating() throws {
        let wide = Self.refusedModel { $0.blockOutChannels = [1_000_000_000, 1_000_000_000, 1_000_000_000, 1_000_000_000] }
        #expect(wide is MemoryError)
        #expect("\(wide!)".contains("block_out_channels [1000000000"), "\(wide!)")
        let deep = Self.refusedModel { $0.layersPerBlock = 100_000_000 }
        #expect(deep is MemoryError)
        #expect("\(deep!)".contains("layers_per_block 100000000") && "\(deep!)".contains("needs about"), "\(deep!)")
        // Large but not overflowing: the estimate, the budget and the override are all named.
        let large = Self.refusedModel { $0.blockOutChannels = [65536, 65536, 65536, 65536] }
        #expect("\(large!)".contains(MemoryBudget.limitVariable), "\(large!)")
        // Huge channel counts overflow 64 bits: said so, not wrapped into a small number.
        let overflow = Self.refusedModel { $0.blockOutChannels = [1 << 40, 1 << 40, 1 << 40, 1 << 40] }
        guard case .overflow? = overflow as? MemoryError else { Issue.record("\(String(describing: overflow))"); return }
        #expect(UNetConfig(sampleSize: 32, blockOutChannels: [1 << 40, 1 << 40], downBlockTypes: [.down, .down],
                           upBlockTypes: [.up, .up]).checkedParameterCount == .overflow)
    }

    @Test func inconsistentModelsBuiltInCodeAreRefusedByKey() {
        let groups = Self.refusedModel { $0.normNumGroups = 48 }
        #expect((groups as? ConfigError)?.key == "norm_num_groups", "\(String(describing: groups))")
        let heads = Self.refusedModel { $0.attentionHeadDim = 0 }
        #expect((heads as? ConfigError)?.key == "attention_head_dim", "\(String(describing: heads))")
        let heads2 = Self.refusedModel { $0.attentionHeadDim = 48 }
        #expect((heads2 as? ConfigError)?.key == "attention_head_dim")
        let levels = Self.refusedModel {
            $0.blockOutChannels = [Int](repeating: 8, count: 70)
            $0.downBlockTypes = [UNetConfig.DownBlockType](repeating: .down, count: 70)
            $0.upBlockTypes = [UNetConfig.UpBlockType](repeating: .up, count: 70)
        }
        #expect((levels as? ConfigError)?.key == "block_out_channels", "\(String(describing: levels))")
        #expect((Self.refusedModel { $0.inChannels = 0 } as? ConfigError)?.key == "in_channels")
        #expect((Self.refusedModel { $0.layersPerBlock = -1 } as? ConfigError)?.key == "layers_per_block")
    }

    @Test func hugeBatchesAndSampleCountsAreRefused() throws {
        var config = UNetConfig.tiny
        config.sampleSize = 8
        let model = try UNet2DModel(config: config)
        let images = Tensor(shape: [400, 8, 8, 1])
        var options = TrainingOptions()
        options.batchSize = 300
        let estimate = config.memoryEstimate(batch: 300, training: true).totalBytes.value!
        try MemoryBudget.$scoped.withValue(MemoryBudget.Limit(bytes: estimate, source: "test")) {
            // A batch of 300 does not fit next to the data set; one larger than the data set is the data set.
            let batch = #expect(throws: MemoryError.self) { try Trainer(model: model, images: images, options: options, group: SingleProcess()) }
            #expect("\(batch!)".contains("training with batch 300 (300 per rank)"), "\(batch!)")
            options.batchSize = 1_000_000_000_000
            let clipped = #expect(throws: MemoryError.self) { try Trainer(model: model, images: images, options: options, group: SingleProcess()) }
            #expect("\(clipped!)".contains("training with batch 400"), "\(clipped!)")
            options.batchSize = 100
            _ = try Trainer(model: model, images: images, options: options, group: SingleProcess())
        }
        let huge = config.memoryEstimate(batch: Int.max / 2, training: true)
        #expect(huge.totalBytes == .overflow)
        #expect(throws: MemoryError.self) { try MemoryBudget.check(huge, for: "x") }

        let samples = #expect(throws: MemoryError.self) {
            try ShardedSampling.generate(model: model, spec: try SamplerSpec.parse(.ddim, steps: 2), schedule: .recipe,
                                         count: 1_000_000_000_000, seed: 0, group: SingleProcess())
        }
        #expect("\(samples!)".contains("sampling 1000000000000 images"), "\(samples!)")
    }

    @Test func theBudgetComesFromTheMachineOrTheOverride() throws {
        let machine = try MemoryBudget.limit(environment: [:])
        #expect(machine.bytes > 0 && machine.bytes < Int(ProcessInfo.processInfo.physicalMemory))
        let set = try MemoryBudget.limit(environment: [MemoryBudget.limitVariable: "512"])
        #expect(set.bytes == 512 << 20 && set.source.contains(MemoryBudget.limitVariable))
        for bad in ["", "lots", "-1", "0", "1e300"] {
            let error = #expect(throws: MemoryError.self) { try MemoryBudget.limit(environment: [MemoryBudget.limitVariable: bad]) }
            #expect("\(error!)".contains(MemoryBudget.limitVariable))
        }
        // A small budget refuses what a large one allows.
        let estimate = UNetConfig.small.memoryEstimate(batch: 64, training: true)
        let tight = MemoryBudget.Limit(bytes: 100 << 20, source: "test")
        #expect(throws: MemoryError.self) { try MemoryBudget.check(estimate, for: "x", limit: tight) }
        try MemoryBudget.check(estimate, for: "x", limit: MemoryBudget.Limit(bytes: 64 << 30, source: "test"))
    }

    @Test func npyShapesWhoseByteCountOverflowsAreRefused() throws {
        for shape in ["(4611686018427387904, 4)", "(3037000500, 3037000500)", "(9223372036854775807,)"] {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
            bytes += Array(header.utf8) + [0, 0, 0, 0]
            let error = #expect(throws: FileError.self) { try NPY.decode(bytes, name: "big.npy") }
            #expect(error?.message.contains("more elements than fit in memory") == true, "\(shape): \(String(describing: error))")
        }
    }

    @Test func checkedArithmetic() {
        #expect(CheckedSize.product([1 << 31, 1 << 31]).value == 1 << 62)
        #expect(CheckedSize.product([1 << 32, 1 << 32]) == .overflow)
        #expect((CheckedSize(Int.max) + 1) == .overflow)
        #expect((CheckedSize.overflow * 0) == .overflow)
        #expect([1 << 62, 4, 0].checkedElementCount == nil)  // an overflow stays one, even times zero
        #expect([3, 0, 1 << 62].checkedElementCount == 0)
        #expect([2, 3, 4].checkedElementCount == 24)
    }
}
