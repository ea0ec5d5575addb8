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

    /// `x` rounded to bf16 (nearest, ties to even, as oneDNN's conversion rounds).
    public convenience init(rounding x: Tensor) {
        self.init(uninitialized: x.shape)
        let chunk = 1 << 16, chunks = (x.count + chunk - 1) / chunk
        Parallel.forEach(chunks) { i in
            BFloat16.round(x.data + i * chunk, data + i * chunk, count: min(chunk, x.count - i * chunk))
        }
    }

    deinit { data.deallocate() }
}

/// An activation held in fp32 or in bf16: a layer's recorded input.
enum HeldActivation {
    case fp32(Tensor), bf16(BF16Tensor)

    var shape: [Int] {
        switch self { case .fp32(let t): return t.shape; case .bf16(let t): return t.shape }
    }

    /// The elements as the products read them: valid while this value (its tensor) is alive.
    var input: ActivationInput {
        switch self { case .fp32(let t): return .fp32(t.data); case .bf16(let t): return .bf16(t.data) }
    }
}
