/// A dense, row-major bfloat16 tensor that owns its memory: an activation that only feeds
/// bf16 arithmetic (the input of a bf16 convolution), written once already rounded, at half
/// of a `Tensor`'s bytes. Elements are `BFloat16` bit patterns.
public final class BF16Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    package let data: UnsafeMutablePointer<UInt16>

    /// A tensor whose contents are garbage: for outputs that a kernel overwrites entirely.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.data = .allocate(capacity: max(count, 1))
    }

    deinit { data.deallocate() }

    /// The values widened to Float32 (exact).
    public func widened() -> Tensor {
        let t = Tensor(uninitialized: shape)
        BFloat16.widen(data, t.data, count: count)
        return t
    }
}
