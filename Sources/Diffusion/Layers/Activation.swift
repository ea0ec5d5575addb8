import Foundation

/// SiLU (swish): y = x * sigmoid(x);  dy/dx = s (1 + x (1 - s)).
public enum SiLU {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, minChunk: 1 << 14) { r in
            for i in r { let v = x[i]; y[i] = v * sigmoid(v) }
        }
    }

    /// dx = dy * silu'(x); dx may alias dy.
    public static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, minChunk: 1 << 14) { r in
            for i in r {
                let v = x[i], s = sigmoid(v)
                dx[i] = dy[i] * s * (1 + v * (1 - s))
            }
        }
    }
}

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
