/// FLOPs per 32x32 image of a preset (convolutions, linears and attention matmuls, counted
/// for forward and for a training step; docs/speed.md), for `bench model` and the cluster
/// prediction.
public struct ReferenceCost: Sendable {
    public let forwardGFLOP: Double, trainGFLOP: Double
}

extension ModelPreset {
    /// The presets with a FLOP count (tiny has none).
    public static let measured: [ModelPreset] = allCases.filter { $0.referenceCost != nil }

    public var referenceCost: ReferenceCost? {
        switch self {
        case .seed: return ReferenceCost(forwardGFLOP: 1.5864, trainGFLOP: 4.8065)
        case .small: return ReferenceCost(forwardGFLOP: 0.4209, trainGFLOP: 1.2863)
        case .tiny: return nil
        }
    }
}
