/// State shared by all layers of one model: whether a forward pass keeps what its backward
/// needs. Sampling and evaluation run with `recordsForBackward = false` and keep nothing.
public final class ForwardContext {
    public var recordsForBackward = false
    /// What runs this model's convolutions: our kernels unless a command or test picks oneDNN.
    public var convolutions: ConvolutionBackend = .swift
    /// The arithmetic of the linears' products (`LinearProducts`): bf16 where the
    /// convolutions run bf16, as autocast rounds both, else fp32.
    public var linearPrecision: ConvolutionPrecision {
        if case .oneDNN(.bf16, _) = convolutions { return .bf16 }
        return .fp32
    }
    /// Collects time per kind of layer when set (benchmarks only).
    public var profile: StepProfile?
    public init() {}
}
