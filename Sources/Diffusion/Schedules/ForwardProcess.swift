extension NoiseSchedule {
    /// The forward process q(x_t | x_0) for training, one timestep per sample:
    ///
    ///     x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps
    ///
    /// `x0` and `eps` share a shape whose first dimension is the batch; `t[b]` is sample b's
    /// timestep in 0..<T.
    public func qSample(x0: Tensor, eps: Tensor, t: [Int]) -> Tensor {
        precondition(x0.shape == eps.shape, "qSample: x0 \(x0.shape) and eps \(eps.shape) differ in shape")
        let batch = x0.shape.first ?? 0
        precondition(t.count == batch, "qSample: \(t.count) timesteps for a batch of \(batch)")
        let xt = Tensor(shape: x0.shape)
        let perSample = batch == 0 ? 0 : x0.count / batch
        for b in 0..<batch {
            precondition((0..<count).contains(t[b]), "qSample: timestep \(t[b]) of sample \(b) is outside 0..<\(count)")
            let alphaBar = alphasCumprod[t[b]]
            let offset = b * perSample
            StepArithmetic.combine(alphaBar.squareRoot(), x0.data + offset,
                                   (1 - alphaBar).squareRoot(), eps.data + offset,
                                   into: xt.data + offset, count: perSample)
        }
        return xt
    }
}
