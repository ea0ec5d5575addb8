/// The SiLU module between layers (time embedding): keeps its input for backward.
public final class SiLULayer {
    let context: ForwardContext
    private var input: Tensor?
    public init(_ context: ForwardContext) { self.context = context }

    public func forward(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        SiLU.forward(x.data, y.data, count: x.count)
        input = context.recordsForBackward ? x : nil
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("silu backward without a recorded forward") }
        input = nil
        let dx = Tensor(uninitialized: x.shape)
        SiLU.backward(x.data, dy.data, dx.data, count: x.count)
        return dx
    }
}
