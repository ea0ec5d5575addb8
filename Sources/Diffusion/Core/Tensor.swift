/// A dense, row-major Float32 tensor that owns its memory.
///
/// The layout is the caller's convention: activations are NHWC inside the package,
/// PyTorch layouts (NCHW, OIHW) appear only at file boundaries.
/// @unchecked Sendable: a tensor carries no lock. It crosses threads in two ways only: kernels
/// write disjoint parts of it from `Parallel` workers that are joined before it is read, and
/// finished tensors (read-only from then on) go into values such as `ReferenceStatistics`.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    /// The elements, unchecked: for the kernels, which take pointers and sizes after the
    /// layers have checked shapes. Package-only, so a user of the library reads and writes
    /// through the checked subscript (or `array`).
    package let data: UnsafeMutablePointer<Float>

    /// A zero-filled tensor.
    public init(shape: [Int]) {
        self.shape = shape
        self.count = Self.elementCount(shape)
        self.data = .allocate(capacity: max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    /// A tensor whose contents are garbage: for outputs that a kernel overwrites entirely.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = Self.elementCount(shape)
        self.data = .allocate(capacity: max(count, 1))
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(shape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    /// Callers check sizes that come from input (UNetConfig.memoryEstimate, the file
    /// readers); a shape that still gets here negative or overflowing is a bug, stopped
    /// before it becomes a wrapped allocation (fatalError survives -Ounchecked).
    static func elementCount(_ shape: [Int]) -> Int {
        guard shape.allSatisfy({ $0 >= 0 }), let count = shape.checkedElementCount,
              (CheckedSize(count) * MemoryLayout<Float>.stride).value != nil else {
            fatalError("tensor shape \(shape) is negative or has more elements than memory can address")
        }
        return count
    }

    package var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    public func copy() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    public func zero() { data.update(repeating: 0, count: count) }

    /// The same elements under another shape (a copy: tensors own their memory).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let t = Tensor(shape: newShape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Element `i` of the flat row-major storage, bounds-checked (hot loops use `data` in
    /// Kernels). fatalError, not precondition, so the check holds in any build mode.
    public subscript(i: Int) -> Float {
        get { checkIndex(i); return data[i] }
        set { checkIndex(i); data[i] = newValue }
    }

    @inline(__always) private func checkIndex(_ i: Int) {
        if i < 0 || i >= count { fatalError("tensor index \(i) out of range for \(count) elements (shape \(shape))") }
    }
}
