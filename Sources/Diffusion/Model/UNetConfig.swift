/// The subset of diffusers' `UNet2DModel` configuration this implementation builds:
/// positional (sinusoidal) time embedding, SiLU, GroupNorm, ResnetBlock2D with the time
/// embedding added after the first conv, plain and attention down/up blocks, a
/// resnet-attention-resnet mid block, stride-2 conv down, nearest x2 + conv up.
/// Everything else diffusers can vary is fixed at the value the recipe uses; config.json
/// files that ask for anything else are refused with a `ConfigError` (see UNetConfigJSON.swift).
public struct UNetConfig: Equatable, Sendable {
    public enum DownBlockType: String, CaseIterable, Sendable {
        case down = "DownBlock2D"
        case attnDown = "AttnDownBlock2D"
        public var hasAttention: Bool { self == .attnDown }
    }

    public enum UpBlockType: String, CaseIterable, Sendable {
        case up = "UpBlock2D"
        case attnUp = "AttnUpBlock2D"
        public var hasAttention: Bool { self == .attnUp }
    }

    /// Image height and width.
    public var sampleSize: Int
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var downBlockTypes: [DownBlockType]
    public var upBlockTypes: [UpBlockType]
    /// Resnets per down block; each up block has one more.
    public var layersPerBlock: Int
    /// Channels per attention head (heads = channels / attentionHeadDim in every attention layer).
    public var attentionHeadDim: Int
    /// Groups of every GroupNorm (resnets, attention, output).
    public var normNumGroups: Int
    public var normEps: Double
    /// Whether the mid block has its attention layer.
    public var addAttention: Bool
    /// Sinusoidal embedding as [cos, sin] (true) or [sin, cos].
    public var flipSinToCos: Bool
    /// Frequencies are exp(-ln(10000) * i / (half - freqShift)), i in 0..<half.
    public var freqShift: Int
    /// diffusers' `class_embed_type`: nil (with `numClassEmbeds`, a learned table) or
    /// `.timestep` (class labels through the sinusoidal embedding and an MLP). See ClassEmbedding.swift.
    public var classEmbedType: ClassEmbedType?
    /// diffusers' `num_class_embeds`: rows of the class table (class_embed_type nil); nil for an
    /// unconditional model.
    public var numClassEmbeds: Int?

    /// Defaults are diffusers' `UNet2DModel.__init__` defaults.
    public init(sampleSize: Int, inChannels: Int = 3, outChannels: Int = 3, blockOutChannels: [Int],
                downBlockTypes: [DownBlockType], upBlockTypes: [UpBlockType], layersPerBlock: Int = 2,
                attentionHeadDim: Int = 8, normNumGroups: Int = 32, normEps: Double = 1e-5,
                addAttention: Bool = true, flipSinToCos: Bool = true, freqShift: Int = 0,
                classEmbedType: ClassEmbedType? = nil, numClassEmbeds: Int? = nil) {
        self.sampleSize = sampleSize
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.downBlockTypes = downBlockTypes
        self.upBlockTypes = upBlockTypes
        self.layersPerBlock = layersPerBlock
        self.attentionHeadDim = attentionHeadDim
        self.normNumGroups = normNumGroups
        self.normEps = normEps
        self.addAttention = addAttention
        self.flipSinToCos = flipSinToCos
        self.freqShift = freqShift
        self.classEmbedType = classEmbedType
        self.numClassEmbeds = numClassEmbeds
    }

    /// Width of the time embedding (diffusers: `block_out_channels[0] * 4`).
    public var timeEmbeddingChannels: Int { blockOutChannels[0] * 4 }

    /// Number of resolution levels (down blocks = up blocks).
    public var blockCount: Int { blockOutChannels.count }
}

// MARK: - Presets

extension UNetConfig {
    /// The recipe's model: UNet2DModel(sample_size=32, in_channels=1, out_channels=1,
    /// block_out_channels=(32,64,128,256), norm_num_groups=8), all else default. 15,890,753 parameters.
    public static let seed = UNetConfig(
        sampleSize: 32, inChannels: 1, outChannels: 1, blockOutChannels: [32, 64, 128, 256],
        downBlockTypes: [.down, .attnDown, .attnDown, .attnDown],
        upBlockTypes: [.attnUp, .attnUp, .attnUp, .up],
        layersPerBlock: 2, attentionHeadDim: 8, normNumGroups: 8)

    /// The seed with half the channels (16,32,64,128): 3,983,009 parameters.
    public static let small: UNetConfig = {
        var c = seed
        c.blockOutChannels = [16, 32, 64, 128]
        return c
    }()

    /// The model of the parity fixture (Tests/Fixtures/tiny/config.json), for tests:
    /// (8,16,16) channels at 16x16, so one file serves config, naming and numerical checks.
    public static let tiny = UNetConfig(
        sampleSize: 16, inChannels: 1, outChannels: 1, blockOutChannels: [8, 16, 16],
        downBlockTypes: [.down, .attnDown, .attnDown],
        upBlockTypes: [.attnUp, .attnUp, .up],
        layersPerBlock: 2, attentionHeadDim: 8, normNumGroups: 8)

    public static let presets: [String: UNetConfig] = ["seed": seed, "small": small, "tiny": tiny]

    /// A preset by name ("seed", "small", "tiny"), nil for any other name.
    public static func preset(_ name: String) -> UNetConfig? { presets[name] }

    /// The seed model (the recipe's configuration).
    public init() { self = .seed }
}

// MARK: - Consistency

extension UNetConfig {
    /// Checks ranges and that the numbers agree with each other; `path` names the source
    /// in errors ("<preset>" or the config.json path).
    public func validate(path: String = "<config>") throws {
        func bad(_ key: String, _ found: String, _ expected: String, _ kind: ConfigError.Kind = .unsupportedValue) -> ConfigError {
            ConfigError(kind, path: path, key: key, found: found, expected: expected)
        }
        guard blockOutChannels.count >= 2 else {
            throw bad("block_out_channels", "\(blockOutChannels)", "at least 2 levels")
        }
        guard blockOutChannels.count <= 32 else {
            throw bad("block_out_channels", "\(blockOutChannels.count) levels",
                      "at most 32 (sample_size must be a multiple of 2^(levels-1))")
        }
        guard blockOutChannels.allSatisfy({ $0 >= 1 }) else {
            throw bad("block_out_channels", "\(blockOutChannels)", "positive channel counts")
        }
        guard downBlockTypes.count == blockCount else {
            throw bad("down_block_types", "\(downBlockTypes.count) block types",
                      "one per block_out_channels entry (\(blockCount))", .inconsistent)
        }
        guard upBlockTypes.count == blockCount else {
            throw bad("up_block_types", "\(upBlockTypes.count) block types",
                      "one per block_out_channels entry (\(blockCount))", .inconsistent)
        }
        guard inChannels >= 1 else { throw bad("in_channels", "\(inChannels)", "at least 1") }
        guard outChannels >= 1 else { throw bad("out_channels", "\(outChannels)", "at least 1") }
        guard layersPerBlock >= 1 else { throw bad("layers_per_block", "\(layersPerBlock)", "at least 1") }
        guard normEps > 0, normEps.isFinite else { throw bad("norm_eps", "\(normEps)", "a positive number") }
        guard normNumGroups >= 1 else { throw bad("norm_num_groups", "\(normNumGroups)", "at least 1") }
        for c in blockOutChannels where c % normNumGroups != 0 {
            throw bad("norm_num_groups", "\(normNumGroups), which does not divide \(c) of block_out_channels \(blockOutChannels)",
                      "a divisor of every block_out_channels entry", .inconsistent)
        }
        guard blockCount <= Self.maxLevels else {
            throw bad("block_out_channels", "\(blockCount) levels", "at most \(Self.maxLevels) levels")
        }
        let levels = 1 << (blockCount - 1)
        guard sampleSize >= 1, sampleSize % levels == 0 else {
            throw bad("sample_size", "\(sampleSize)",
                      "a positive multiple of \(levels) (2^(levels-1): the image is halved \(blockCount - 1) times)", .inconsistent)
        }
        let timeWidth = blockOutChannels[0]
        guard timeWidth % 2 == 0 else {
            throw bad("block_out_channels", "\(blockOutChannels)",
                      "an even first entry (it is the width of the sinusoidal time embedding)")
        }
        guard freqShift != timeWidth / 2 else {
            throw bad("freq_shift", "\(freqShift)", "a value other than block_out_channels[0] / 2 (it divides by half - freq_shift)")
        }
        if let n = numClassEmbeds, !(1...Self.maxClassEmbeds).contains(n) {
            throw bad("num_class_embeds", "\(n)", "an integer in 1...\(Self.maxClassEmbeds), or null")
        }
        let d = attentionHeadDim
        guard d >= 1 else { throw bad("attention_head_dim", "\(d)", "a positive integer") }
        var attended: [Int] = []
        for (i, t) in downBlockTypes.enumerated() where t.hasAttention { attended.append(blockOutChannels[i]) }
        for (i, t) in upBlockTypes.enumerated() where t.hasAttention { attended.append(blockOutChannels[blockCount - 1 - i]) }
        if addAttention { attended.append(blockOutChannels[blockCount - 1]) }
        for c in attended where c % d != 0 {
            throw bad("attention_head_dim", "\(d), which does not divide the \(c) channels of an attention layer",
                      "a divisor of the channels of every block with attention", .inconsistent)
        }
    }
}

extension UNetConfig {
    /// Training and sampling use the model as a denoiser of its own input (it predicts the
    /// noise added to the sample), so its output must have the input's channels. diffusers
    /// accepts in_channels != out_channels (e.g. conditioning channels concatenated to the
    /// input); such a model runs with `predict` only. `use` names what was asked for.
    public func checkDenoiser(for use: String) throws {
        guard inChannels == outChannels else {
            throw ConfigError(.inconsistent, path: "model config", key: "out_channels",
                              found: "\(outChannels) while in_channels is \(inChannels)",
                              expected: "out_channels equal to in_channels for \(use): the model predicts the noise "
                                  + "added to its own input (`predict` runs a model whose channels differ)")
        }
    }
}
