/// Elementwise arithmetic of sampler steps. Coefficients come from the Float64 schedule; each
/// element is computed in Float64 and stored as Float32, so a step adds one Float32 rounding.
enum StepArithmetic {
    /// out = a·x + b·y
    static func combine(_ a: Double, _ x: UnsafePointer<Float>, _ b: Double, _ y: UnsafePointer<Float>,
                        into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = Float(a * Double(x[i]) + b * Double(y[i])) }
    }

    /// a·x + b·y as a new tensor of x's shape.
    static func combine(_ a: Double, _ x: Tensor, _ b: Double, _ y: Tensor) -> Tensor {
        precondition(x.shape == y.shape, "elementwise step on shapes \(x.shape) and \(y.shape)")
        let out = Tensor(shape: x.shape)
        combine(a, x.data, b, y.data, into: out.data, count: x.count)
        return out
    }

    /// a·x + b·y + c·z as a new tensor; z = nil (or c = 0) leaves the last term out.
    static func combine(_ a: Double, _ x: Tensor, _ b: Double, _ y: Tensor, _ c: Double, _ z: Tensor?) -> Tensor {
        guard let z, c != 0 else { return combine(a, x, b, y) }
        precondition(x.shape == y.shape && x.shape == z.shape,
                     "elementwise step on shapes \(x.shape), \(y.shape) and \(z.shape)")
        let out = Tensor(shape: x.shape)
        for i in 0..<x.count {
            out.data[i] = Float(a * Double(x.data[i]) + b * Double(y.data[i]) + c * Double(z.data[i]))
        }
        return out
    }

    /// Clamps every element to [-limit, limit] in place.
    static func clamp(_ x: Tensor, to limit: Double) {
        let hi = Float(limit), lo = -hi
        for i in 0..<x.count { x.data[i] = min(max(x.data[i], lo), hi) }
    }

    /// x0 = (x_t - sqrt(1 - alphaBar) eps) / sqrt(alphaBar): the clean image implied by eps.
    static func predictX0(x: Tensor, eps: Tensor, alphaBar: Double) -> Tensor {
        let s = alphaBar.squareRoot()
        return combine(1 / s, x, -(1 - alphaBar).squareRoot() / s, eps)
    }
}

extension StepArithmetic {
    /// a·x as a new tensor.
    static func scaled(_ x: Tensor, by a: Double) -> Tensor {
        let out = Tensor(shape: x.shape)
        for i in 0..<x.count { out.data[i] = Float(a * Double(x.data[i])) }
        return out
    }

    /// sum_k c_k v_k as a new tensor of the first term's shape, each element summed in Float64.
    static func linearCombination(_ terms: [(Double, Tensor)]) -> Tensor {
        precondition(!terms.isEmpty, "linear combination of no tensors")
        let shape = terms[0].1.shape
        precondition(terms.allSatisfy { $0.1.shape == shape }, "elementwise step on shapes \(terms.map(\.1.shape))")
        let out = Tensor(shape: shape)
        let sources = terms.map { (c: $0.0, p: UnsafePointer($0.1.data)) }
        for i in 0..<out.count {
            var sum = 0.0
            for (c, p) in sources { sum += c * Double(p[i]) }
            out.data[i] = Float(sum)
        }
        return out
    }
}
