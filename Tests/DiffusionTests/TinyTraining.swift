@testable import Diffusion

/// A U-Net small enough that a training step takes a millisecond and a checkpoint a few
/// kilobytes: for tests of checkpoints and the files around them, not of the numbers.
enum TinyTraining {
    static let config = UNetConfig(sampleSize: 4, inChannels: 1, outChannels: 1, blockOutChannels: [8, 8],
                                   downBlockTypes: [.down, .attnDown], upBlockTypes: [.attnUp, .up],
                                   layersPerBlock: 1, attentionHeadDim: 8, normNumGroups: 4)

    /// A trainer on 4 fixed images, batch 2, parameters initialized with `seed`.
    static func trainer(maxSteps: Int? = nil, seed: UInt64 = 3, adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        let model = try UNet2DModel(config: config)
        model.initializeParameters(seed: seed)
        var options = TrainingOptions()
        options.batchSize = 2
        options.epochs = 1000
        options.maxSteps = maxSteps
        adjust(&options)
        let images = Tensor(shape: [4, 4, 4, 1])
        for i in 0..<images.count { images[i] = Float(i % 7) / 7 - 0.5 }
        return try Trainer(model: model, images: images, options: options, group: SingleProcess())
    }
}
