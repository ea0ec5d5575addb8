/// What the network's output stands for: diffusers' scheduler option `prediction_type`.
///
/// With x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, the three are
///
///     epsilon       eps
///     v_prediction  v = sqrt(abar) eps - sqrt(1 - abar) x0      (Salimans & Ho 2022, sec. 4)
///     sample        x0
///
/// The samplers here step on eps, so a model of another kind is sampled through
/// `epsilonModel`, which turns each output into the eps it implies.
public enum PredictionType: String, Codable, CaseIterable, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample

    /// The names diffusers spells, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: "|") }

    /// The eps implied by `output` for the model input `x` at noise level `alphaBar`:
    ///
    ///     v_prediction  eps = sqrt(abar) v + sqrt(1 - abar) x
    ///     sample        eps = (x - sqrt(abar) x0) / sqrt(1 - abar)
    ///
    /// Each scheduler then rebuilds exactly what diffusers' own `step` forms from the raw
    /// output (a = sqrt(abar), s = sqrt(1 - abar), x0(eps) = (x - s eps)/a):
    /// - DDPMScheduler, DDIMScheduler: x0(eps) = (x - s (a v + s x))/a = a x - s v, their
    ///   pred_original_sample for v_prediction; DDIM's pred_epsilon is a v + s x, this eps.
    ///   For `sample`, x0(eps) = x0 and pred_epsilon = (x - a x0)/s, both as diffusers.
    /// - DPMSolverMultistepScheduler (++): its x0 = alpha_t x - sigma_t v for v_prediction and
    ///   x0 = output for sample, with alpha_t = a and sigma_t = s at the step's sigma.
    /// - EulerAncestralDiscreteScheduler: in x~ = x / a, pred_original_sample =
    ///   v · (-sigma / sqrt(sigma^2 + 1)) + x~ / (sigma^2 + 1); with a = 1/sqrt(sigma^2 + 1),
    ///   s = sigma a, x~ - sigma eps = x~ a^2 - sigma a v is that formula. (diffusers refuses
    ///   `sample` there; the conversion gives it the same meaning as elsewhere.)
    ///
    /// `sample` divides by s; s >= sqrt(beta_1) > 0 (1e-2 on the recipe's schedule), and every
    /// sampler multiplies eps by s again to form x0, so the round trip costs a few Float32
    /// roundings of x (measured against diffusers at the last step in PredictionTypeTests).
    public func epsilon(from output: Tensor, x: Tensor, alphaBar: Double) -> Tensor {
        let a = alphaBar.squareRoot(), s = (1 - alphaBar).squareRoot()
        switch self {
        case .epsilon: return output
        case .vPrediction: return StepArithmetic.combine(a, output, s, x)
        case .sample: return StepArithmetic.combine(1 / s, x, -a / s, output)
        }
    }

    /// `model` (whose outputs are of this type) as the eps model the samplers want; `alphaBar`
    /// gives the noise level of the input at the model's timestep (`SamplerNoiseLevels`).
    /// Classifier-free guidance may be applied before or after: eps is affine in the output
    /// with the same x term for both predictions, so eps_u + w (eps_c - eps_u) converts
    /// to the guided output's eps.
    public func epsilonModel(_ model: @escaping DenoisingModel, alphaBar: @escaping (Double) -> Double) -> DenoisingModel {
        if self == .epsilon { return model }
        return { x, t in
            let out = try model(x, t)
            guard out.shape == x.shape, let first = t.first, t.allSatisfy({ $0 == first }) else {
                return try self.perSample(out, x: x, t: t, alphaBar: alphaBar)
            }
            return self.epsilon(from: out, x: x, alphaBar: alphaBar(first))
        }
    }

    /// Samples at different timesteps, each converted at its own noise level.
    private func perSample(_ out: Tensor, x: Tensor, t: [Double], alphaBar: (Double) -> Double) throws -> Tensor {
        let batch = x.shape.first ?? 0
        guard out.shape == x.shape, t.count == batch, batch > 0 else { return out }  // the run loop reports the shape
        let result = Tensor(shape: x.shape)
        let per = x.count / batch
        for b in 0..<batch {
            let one = [1] + x.shape.dropFirst()
            let xb = Tensor(shape: one, values: Array(UnsafeBufferPointer(start: x.data + b * per, count: per)))
            let ob = Tensor(shape: one, values: Array(UnsafeBufferPointer(start: out.data + b * per, count: per)))
            (result.data + b * per).update(from: epsilon(from: ob, x: xb, alphaBar: alphaBar(t[b])).data, count: per)
        }
        return result
    }
}
