/// State shared by all layers of one model: whether a forward pass keeps what its backward
/// needs. Sampling and evaluation run with `recordsForBackward = false` and keep nothing.
public final class ForwardContext {
    public var recordsForBackward = false
    /// What runs this model's convolutions: our kernels unless a command or test picks oneDNN.
    public var convolutions: ConvolutionBackend = .swift
    /// Collects time per kind of layer when set (benchmarks only).
    public var profile: StepProfile?
    public init() {}
}
