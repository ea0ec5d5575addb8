import Foundation
import Kernels

/// Adam (Kingma & Ba 2015) as PyTorch's `torch.optim.Adam` (no weight decay, no amsgrad):
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// beta1 may change every step (OneCycle's momentum cycling), as in PyTorch.
public final class Adam {
    public let count: Int
    public var eps: Float
    public private(set) var step = 0
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>

    public init(count: Int, eps: Float = 1e-5) {
        self.count = count; self.eps = eps
        m = .allocate(capacity: max(count, 1)); v = .allocate(capacity: max(count, 1))
        m.initialize(repeating: 0, count: max(count, 1)); v.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { m.deallocate(); v.deallocate() }

    /// Restores moments and step count (from a checkpoint).
    public func restore(step: Int, m mSrc: UnsafePointer<Float>, v vSrc: UnsafePointer<Float>) {
        self.step = step
        m.update(from: mSrc, count: count); v.update(from: vSrc, count: count)
    }

    public func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                       lr: Double, beta1: Double, beta2: Double) {
        step += 1
        let bc1 = 1 - Foundation.pow(beta1, Double(step)), bc2 = 1 - Foundation.pow(beta2, Double(step))
        let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
        AdamKernel.update(params: params, grads: grads, m: m, v: v, count: count, stepSize: stepSize,
                          beta1: Float(beta1), beta2: Float(beta2), bc2Sqrt: bc2Sqrt, eps: eps)
    }
}
