import Kernels

extension Tensor {
    /// self += other, elementwise.
    func add(_ other: Tensor) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        Vectorized.addInPlace(data, other.data, count: count)
    }
}
