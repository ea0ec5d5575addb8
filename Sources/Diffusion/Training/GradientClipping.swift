/// Global-norm gradient clipping, as PyTorch's `clip_grad_norm_`: when the L2 norm of all
/// gradients together exceeds `maxNorm`, every gradient is scaled by maxNorm / (norm + 1e-6).
/// Runs after the allreduce, so every rank sees the same sums and scales the same way.
public enum GradientClipping {
    /// The L2 norm over `count` floats, accumulated in Float64.
    public static func norm(_ g: UnsafePointer<Float>, count: Int) -> Double {
        var sum = 0.0
        for i in 0..<count { let x = Double(g[i]); sum += x * x }
        return sum.squareRoot()
    }

    /// Clips in place; returns the norm before clipping.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        let total = norm(g, count: count)
        let coefficient = maxNorm / (total + 1e-6)
        if coefficient < 1 {
            let c = Float(coefficient)
            for i in 0..<count { g[i] *= c }
        }
        return total
    }
}
