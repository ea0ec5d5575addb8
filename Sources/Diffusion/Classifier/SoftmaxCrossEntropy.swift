import Foundation

/// Softmax cross-entropy of class logits against integer labels (PyTorch's `cross_entropy`).
///
///   logits z: [N, K], labels y: [N] in 0..<K
///   forward   loss_i = logsumexp(z_i) − z_i[y_i]          (returned summed over i, Float64)
///   backward  dz_i = scale · (softmax(z_i) − onehot(y_i))  (scale 1/N for the mean loss; in
///             data-parallel training 1/global batch, so the summed gradients are the mean's)
public enum SoftmaxCrossEntropy {
    public struct Forward: Sendable {
        /// Σ_i loss_i.
        public let lossSum: Double
        /// Rows whose largest logit is the label's (ties go to the lower class).
        public let correct: Int
    }

    public static func forward(logits: Tensor, labels: [Int]) -> Forward {
        let (n, k) = check(logits, labels)
        var lossSum = 0.0, correct = 0
        for i in 0..<n {
            let z = logits.data + i * k
            var best = 0
            for j in 1..<k where z[j] > z[best] { best = j }
            lossSum += logSumExp(z, k) - Double(z[labels[i]])
            if best == labels[i] { correct += 1 }
        }
        return Forward(lossSum: lossSum, correct: correct)
    }

    public static func backward(logits: Tensor, labels: [Int], scale: Float) -> Tensor {
        let (n, k) = check(logits, labels)
        let dz = Tensor(uninitialized: logits.shape)
        for i in 0..<n {
            let z = logits.data + i * k, d = dz.data + i * k
            let lse = logSumExp(z, k)
            for j in 0..<k { d[j] = scale * Float(Foundation.exp(Double(z[j]) - lse)) }
            d[labels[i]] -= scale
        }
        return dz
    }

    /// log Σ_j exp(z_j), shifted by the maximum so nothing overflows.
    static func logSumExp(_ z: UnsafePointer<Float>, _ k: Int) -> Double {
        var m = Double(z[0])
        for j in 1..<k { m = max(m, Double(z[j])) }
        var s = 0.0
        for j in 0..<k { s += Foundation.exp(Double(z[j]) - m) }
        return m + Foundation.log(s)
    }

    private static func check(_ logits: Tensor, _ labels: [Int]) -> (Int, Int) {
        precondition(logits.shape.count == 2 && logits.shape[1] >= 1, "cross-entropy expects logits [N,K], got \(logits.shape)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == n, "cross-entropy: \(labels.count) labels for \(n) rows of logits")
        for (i, y) in labels.enumerated() {
            precondition(y >= 0 && y < k, "cross-entropy: label \(y) of row \(i) outside 0..<\(k)")
        }
        return (n, k)
    }
}
