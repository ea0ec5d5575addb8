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

/// Default PyTorch initialisation of Conv2d/Linear (kaiming_uniform with a = sqrt(5)):
/// weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func initUniform(_ p: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, rng: inout RandomStream) {
    let bound = 1 / Double(fanIn).squareRoot()
    for i in 0..<count { p[i] = Float((rng.uniform() * 2 - 1) * bound) }
}

extension Tensor {
    /// self += other, elementwise.
    func add(_ other: Tensor) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        Vectorized.addInPlace(data, other.data, count: count)
    }
}
