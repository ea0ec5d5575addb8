// Temporary: replaced by the full UNetConfig (parsing, validation, presets) on merge.
public struct UNetConfig: Sendable, Equatable {
    public var sampleSize = 32
    public var inChannels = 1
    public var outChannels = 1
    public var blockOutChannels = [32, 64, 128, 256]
    public var layersPerBlock = 2
    public var downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
    public var upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
    public var addAttention = true
    public var attentionHeadDim = 8
    public var normNumGroups = 8
    public var normEps = 1e-5
    public var flipSinToCos = true
    public var freqShift = 0.0
    public init() {}
}
extension UNetConfig {
    public static func preset(_ name: String) -> UNetConfig? {
        var c = UNetConfig()
        switch name {
        case "seed": return c
        case "small": c.blockOutChannels = [16, 32, 64, 128]; return c
        default: return nil
        }
    }
}
