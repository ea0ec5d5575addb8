/// Why a batch cannot go through the U-Net. diffusers raises for the same inputs (a channel
/// mismatch in conv_in, a concatenation of skips whose sizes differ, an empty tensor in a
/// convolution); every message says what would work.
public enum ModelInputError: Error, Equatable, CustomStringConvertible {
    /// The sample is not [N, H, W, C].
    case rank(shape: [Int])
    case emptyBatch
    case channels(found: Int, inChannels: Int)
    /// `dimension` ("height" or "width") is `size`, not a positive multiple of `multiple`.
    case spatial(dimension: String, size: Int, multiple: Int, downBlocks: Int)
    case timesteps(count: Int, batch: Int)
    case nonFiniteTimestep(Float)
    /// A class-conditional model called without labels, or an unconditional one with them.
    case classLabelsMissing
    case classLabelsUnexpected
    case classLabels(count: Int, batch: Int)
    case classLabel(Int, allowed: Range<Int>)

    public var description: String {
        switch self {
        case .rank(let shape):
            return "the sample has shape \(shape); the model takes [batch, height, width, channels] images"
        case .emptyBatch:
            return "the batch holds no images; the model needs at least one"
        case .channels(let found, let inChannels):
            return "the sample has \(found) channel(s); the model's in_channels is \(inChannels)"
        case .spatial(let dimension, let size, let multiple, let downBlocks):
            let below = size / multiple * multiple, above = below + multiple
            let options = below > 0 ? "\(below) or \(above)" : "\(above)"
            return "\(dimension) \(size) must be a positive multiple of \(multiple) for \(downBlocks) down blocks "
                + "(each but the last halves it): \(options)"
        case .timesteps(let count, let batch):
            return "\(count) timestep(s) for a batch of \(batch) images; expected one per image"
        case .nonFiniteTimestep(let t):
            return "a timestep is \(t); expected finite numbers"
        case .classLabelsMissing:
            return "the model is class-conditional (num_class_embeds / class_embed_type in its config): it needs a class label per image"
        case .classLabelsUnexpected:
            return "class labels given, but the model is unconditional (its config has no num_class_embeds or class_embed_type)"
        case .classLabels(let count, let batch):
            return "\(count) class label(s) for a batch of \(batch) images; expected one per image"
        case .classLabel(let label, let allowed):
            return allowed.upperBound == Int.max ? "class label \(label) is negative; expected labels >= 0"
                : "class label \(label) outside 0...\(allowed.upperBound - 1) (num_class_embeds is \(allowed.upperBound))"
        }
    }
}

extension UNet2DModel {
    /// Checks that `shape` ([N, H, W, C]) and `timesteps` can go through this model: the one
    /// place sizes are checked, at the entry of `forward`.
    public func checkInput(shape: [Int], timesteps: [Float], classLabels: [Int]? = nil) throws {
        guard shape.count == 4 else { throw ModelInputError.rank(shape: shape) }
        guard shape[0] >= 1 else { throw ModelInputError.emptyBatch }
        guard shape[3] == config.inChannels else {
            throw ModelInputError.channels(found: shape[3], inChannels: config.inChannels)
        }
        let multiple = 1 << (config.blockCount - 1)
        for (dimension, size) in [("height", shape[1]), ("width", shape[2])] where size < 1 || size % multiple != 0 {
            throw ModelInputError.spatial(dimension: dimension, size: size, multiple: multiple, downBlocks: config.blockCount)
        }
        guard timesteps.count == shape[0] else { throw ModelInputError.timesteps(count: timesteps.count, batch: shape[0]) }
        if let bad = timesteps.first(where: { !$0.isFinite }) { throw ModelInputError.nonFiniteTimestep(bad) }
        switch (classEmbedding, classLabels) {
        case (nil, nil): break
        case (nil, _?): throw ModelInputError.classLabelsUnexpected
        case (_?, nil): throw ModelInputError.classLabelsMissing
        case (let embedding?, let labels?):
            guard labels.count == shape[0] else { throw ModelInputError.classLabels(count: labels.count, batch: shape[0]) }
            let allowed = embedding.labelRange
            if let bad = labels.first(where: { !allowed.contains($0) }) { throw ModelInputError.classLabel(bad, allowed: allowed) }
        }
    }
}
