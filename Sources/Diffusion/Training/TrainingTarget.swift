/// What the network is trained to output, and how much each sample's error counts.
///
/// The target for x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (diffusers' training scripts):
/// eps (epsilon), v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (v_prediction, diffusers'
/// `get_velocity`), or x0 (sample).
///
/// min-SNR-gamma weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR
/// Weighting Strategy", arXiv:2303.09556: w_t = min{SNR(t), gamma} on the x0 loss): with
/// SNR_t = abar_t / (1 - abar_t), the x0 loss is weighted by min(SNR_t, gamma); since ||eps - eps^||^2 = SNR_t ||x0 - x0^||^2 and
/// ||v - v^||^2 = (SNR_t + 1) ||x0 - x0^||^2, the same weighting is min(SNR_t, gamma) / SNR_t on
/// the eps loss and min(SNR_t, gamma) / (SNR_t + 1) on the v loss (diffusers'
/// train_text_to_image.py: `compute_snr`, then mse_loss_weights). The loss is then
/// mean over the batch of (weight_b · mean over pixels of (output - target)^2).
public enum TrainingTarget {
    /// Sample b's target, written into `target` at b's offset (`count` elements).
    static func write(_ prediction: PredictionType, x0: UnsafePointer<Float>, eps: UnsafePointer<Float>, alphaBar: Double,
                      into target: UnsafeMutablePointer<Float>, count: Int) {
        switch prediction {
        case .epsilon: target.update(from: eps, count: count)
        case .sample: target.update(from: x0, count: count)
        case .vPrediction:
            StepArithmetic.combine(alphaBar.squareRoot(), eps, -(1 - alphaBar).squareRoot(), x0, into: target, count: count)
        }
    }

    /// The targets of a batch: `x0` and `eps` of one shape, sample b at timestep t[b].
    public static func targets(_ prediction: PredictionType, x0: Tensor, eps: Tensor, t: [Int], schedule: NoiseSchedule) -> Tensor {
        precondition(x0.shape == eps.shape && t.count == (x0.shape.first ?? 0), "targets: x0 \(x0.shape), eps \(eps.shape), \(t.count) timesteps")
        if prediction == .epsilon { return eps }
        if prediction == .sample { return x0 }
        let out = Tensor(shape: x0.shape)
        let per = t.isEmpty ? 0 : x0.count / t.count
        for (b, step) in t.enumerated() {
            write(prediction, x0: x0.data + b * per, eps: eps.data + b * per, alphaBar: schedule.alphasCumprod[step],
                  into: out.data + b * per, count: per)
        }
        return out
    }

    /// What the loss of a run with these options is, for the loss plot's axis:
    /// "MSE on eps", or "min-SNR-5 weighted MSE on v" with `--snr-gamma 5 --prediction-type v_prediction`.
    public static func lossLabel(_ prediction: PredictionType, snrGamma: Double?) -> String {
        let target = switch prediction { case .epsilon: "eps"; case .vPrediction: "v"; case .sample: "x0" }
        return (snrGamma.map { String(format: "min-SNR-%g weighted ", $0) } ?? "") + "MSE on " + target
    }

    /// SNR_t = abar_t / (1 - abar_t).
    public static func snr(alphaBar: Double) -> Double { alphaBar / (1 - alphaBar) }

    /// The min-SNR-gamma weight of a sample at noise level `alphaBar` whose output is of
    /// type `prediction`.
    public static func minSNRWeight(_ prediction: PredictionType, alphaBar: Double, gamma: Double) -> Double {
        let snr = snr(alphaBar: alphaBar), clipped = min(snr, gamma)
        switch prediction {
        case .epsilon: return clipped / snr
        case .vPrediction: return clipped / (snr + 1)
        case .sample: return clipped
        }
    }

    /// sum_b w_b sum_i (output - target)^2 over a batch (sample b's elements share w_b), and
    /// its gradient with respect to the output times gradientScale / 2: with gradientScale =
    /// 2 / (global batch * pixels) that is the gradient of the global loss sum / (global
    /// batch * pixels). Weights of 1 give the unweighted recipe's values bit for bit.
    public static func weightedSquaredError(output: Tensor, target: Tensor, weights: [Float], gradientScale: Float)
        -> (sum: Double, gradient: Tensor) {
        precondition(output.shape == target.shape && weights.count == (output.shape.first ?? 0),
                     "weighted MSE: output \(output.shape), target \(target.shape), \(weights.count) weights")
        let gradient = Tensor(uninitialized: output.shape)
        let pixels = weights.isEmpty ? 0 : output.count / weights.count
        var sum = 0.0
        for (b, w) in weights.enumerated() {
            let scale = gradientScale * w  // exactly gradientScale when w = 1
            for i in b * pixels..<(b + 1) * pixels {
                let d = output[i] - target[i]
                sum += Double(w) * Double(d * d)
                gradient[i] = scale * d
            }
        }
        return (sum, gradient)
    }

    /// Each sample's loss weight: 1 without `gamma`, else its min-SNR-gamma weight.
    public static func weights(_ prediction: PredictionType, t: [Int], gamma: Double?, schedule: NoiseSchedule) -> [Float] {
        guard let gamma else { return [Float](repeating: 1, count: t.count) }
        return t.map { Float(minSNRWeight(prediction, alphaBar: schedule.alphasCumprod[$0], gamma: gamma)) }
    }
}
