/// The model presets by name, for command lines and result files.
public enum ModelPreset: String, CaseIterable, Codable, Sendable {
    /// The recipe's model (32, 64, 128, 256 channels).
    case seed
    /// Half the channels (16, 32, 64, 128).
    case small
    /// (8, 16, 16) channels: tests.
    case tiny

    /// The preset's configuration as defined (tiny is 16x16, the others 32x32).
    public var config: UNetConfig {
        switch self {
        case .seed: return .seed
        case .small: return .small
        case .tiny: return .tiny
        }
    }
}
