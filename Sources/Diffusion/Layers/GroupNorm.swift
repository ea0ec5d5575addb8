/// GroupNorm over NHWC, optionally fused with a following SiLU (the U-Net always applies
/// SiLU right after its resnet and output norms; fusing saves a pass and a tensor).
///
///   x: [N, H, W, C] -> y: same;  groups G, C/G channels each; statistics per (n, g)
///   forward   z = (x - mean) * rstd * gamma + beta;  y = z, or silu(z)
///   backward  dz = dy (or dy * silu'(z));  dgamma += sum dz xhat;  dbeta += sum dz
///             dx = rstd (dz gamma - mean_g(dz gamma) - xhat mean_g(dz gamma xhat))
/// Parameters `NAME.weight` (gamma) and `NAME.bias` (beta), [C].
///
/// One image per task; an image's activations (<= ~400 KB here) stay in L2 across the
/// passes. Statistics take one pass (shifted sums, see `GroupNormKernel.statistics`), per
/// channel in Float, 8 channels a lane-vector and 2 pixel-interleaved accumulators each
/// (<= 512 terms per accumulator at 32x32); only the per-group combine of the channel sums
/// is in Double. Every other pass is a per-channel affine map (one FMA per element) with
/// the group statistics folded into per-channel coefficients.
///
/// In a bf16 run (`forwardBF16`) the norm rounds xhat to bf16 before gamma and beta, and
/// keeps that bf16 xhat for backward in place of the fp32 input: half its bytes, for
/// backward's two passes to read. The rounding is
/// of a normalized value (relative error 2^-9 whatever the group's mean), milder than
/// autocast's, which rounds the convolution's output before the norm; the gradients are
/// those of the rounded forward, as autocast's are of its own.
public final class GroupNorm {
    let store: ParameterStore
    let context: ForwardContext
    let channels, groups: Int
    let eps: Float
    let fusedSiLU: Bool
    let weightOffset, biasOffset: Int
    /// What backward reads: the fp32 input (`forward`), or the bf16 xhat (`forwardBF16`).
    private var recorded: RecordedInput?
    private var mean: [Float] = [], rstd: [Float] = []

    public init(_ store: ParameterStore, _ context: ForwardContext, name: String,
                channels: Int, groups: Int, eps: Float, fusedSiLU: Bool) {
        precondition(channels % groups == 0, "\(name): \(channels) channels not divisible by \(groups) groups")
        self.store = store; self.context = context
        self.channels = channels; self.groups = groups; self.eps = eps; self.fusedSiLU = fusedSiLU
        weightOffset = store.register(name + ".weight", shape: [channels])
        biasOffset = store.register(name + ".bias", shape: [channels])
    }

    func initialize() {
        (store.values + weightOffset).update(repeating: 1, count: channels)
        (store.values + biasOffset).update(repeating: 0, count: channels)
    }

    public func forward(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        context.timed("group norm forward") { normalize(x, into: .fp32(y.data)) }
        return y
    }

    /// The output in bf16, for a bf16 convolution or projection (which would round it
    /// anyway), computed from xhat rounded to bf16; that xhat is what backward reads. With
    /// `recordsForBackward` the consumer may keep no copy of the output: `recomputedBF16`
    /// gives the same values again.
    public func forwardBF16(_ x: Tensor) -> BF16Tensor {
        let y = BF16Tensor(uninitialized: x.shape)
        context.timed("group norm forward") { normalize(x, into: .bf16(y.data)) }
        return y
    }

    /// `forwardBF16`'s output again, bit for bit, from the recorded bf16 xhat: one pass that
    /// reads and writes bf16, where keeping the output would hold its bytes from forward to backward.
    func recomputedBF16() -> BF16Tensor {
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        return mapRecordedXhat(silu: fusedSiLU) { _, _ in (UnsafePointer(gamma), UnsafePointer(beta)) }
    }

    /// The input in bf16, from the recorded xhat: xhat / rstd + mean, rounded. For a 1x1
    /// shortcut that reads the same input as this norm, whose weight gradient needs it: it
    /// keeps nothing of its own (a bf16 convolution reads its input rounded anyway; this is
    /// that input to within a rounding of xhat, 2^-9 of the group's standard deviation).
    func reconstructedInputBF16() -> BF16Tensor {
        let (C, G, cg) = (channels, groups, channels / groups)
        return mapRecordedXhat(silu: false) { b, scratch in
            for c in 0..<C {
                scratch[c] = 1 / rstd[b * G + c / cg]
                scratch[C + c] = mean[b * G + c / cg]
            }
            return (UnsafePointer(scratch), UnsafePointer(scratch + C))
        }
    }

    /// y = xhat scale + shift per channel (SiLU'd when `silu`), rounded to bf16, from the
    /// recorded bf16 xhat. `coefficients(b, scratch)` gives image b's C scales and C shifts,
    /// in `scratch` (room for 2C floats) or elsewhere.
    private func mapRecordedXhat(silu: Bool, _ coefficients: (Int, UnsafeMutablePointer<Float>)
                                     -> (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>)) -> BF16Tensor {
        guard case .normalized(let xhat) = recorded else { preconditionFailure("group norm: no recorded bf16 forward") }
        let y = BF16Tensor(uninitialized: xhat.shape)
        context.timed("group norm backward") {
            let n = xhat.shape[0], size = xhat.count / n, C = channels
            Parallel.forEach(n) { b in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * C)
                defer { scratch.deallocate() }
                let (scale, shift) = coefficients(b, scratch)
                GroupNormKernel.affineBF16(input: xhat.data + b * size, y.data + b * size, pixels: size / C, channels: C,
                                           scale: scale, shift: shift, silu: silu)
            }
        }
        return y
    }

    private enum Output {
        case fp32(UnsafeMutablePointer<Float>), bf16(UnsafeMutablePointer<UInt16>)
    }

    /// y = x * scale + shift per channel of each image: scale = rstd gamma, shift = beta - mean rstd gamma.
    private func affineCoefficients(mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                    scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>) {
        let gamma = store.values + weightOffset, beta = store.values + biasOffset, cg = channels / groups
        for c in 0..<channels {
            let g = c / cg
            scale[c] = rstd[g] * gamma[c]
            shift[c] = beta[c] - mean[g] * rstd[g] * gamma[c]
        }
    }

    private func normalize(_ x: Tensor, into output: Output) {
        precondition(x.shape.last == channels, "group norm expects \(channels) channels, got \(x.shape)")
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G) = (channels, groups)
        var mean = [Float](repeating: 0, count: n * G), rstd = mean
        let eps = self.eps, silu = fusedSiLU, cg = C / G
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        let xhat: BF16Tensor? = if case .bf16 = output, context.recordsForBackward { BF16Tensor(uninitialized: x.shape) } else { nil }
        mean.withUnsafeMutableBufferPointer { meanP in rstd.withUnsafeMutableBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C
                let work = UnsafeMutablePointer<Float>.allocate(capacity: 4 * C)
                defer { work.deallocate() }
                let (sums, scale, shift) = (work + 2 * C, work, work + C)
                GroupNormKernel.statistics(xb, pixels: pixels, channels: C, groups: G, eps: eps, sums: sums,
                                           channelMean: shift, mean: meanP + b * G, rstd: rstdP + b * G)
                switch output {
                case .fp32(let y):
                    affineCoefficients(mean: meanP + b * G, rstd: rstdP + b * G, scale: scale, shift: shift)
                    GroupNormKernel.affine(xb, y + b * pixels * C, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu)
                case .bf16(let y):
                    // xhat = x rstd - mean rstd per channel, then gamma and beta on it rounded.
                    for c in 0..<C { scale[c] = rstdP[b * G + c / cg]; shift[c] = -meanP[b * G + c / cg] * scale[c] }
                    GroupNormKernel.normalizeBF16(xb, xhat: xhat.map { $0.data + b * pixels * C }, y + b * pixels * C,
                                                  pixels: pixels, channels: C, scale: scale, shift: shift,
                                                  gamma: gamma, beta: beta, silu: silu)
                }
            }
        } }
        recorded = nil
        guard context.recordsForBackward else { return }
        recorded = xhat.map { .normalized($0) } ?? .fp32(x)
        self.mean = mean; self.rstd = rstd
    }

    public func backward(_ dy: consuming Tensor) -> Tensor {
        backward(dy, adding: nil)
    }

    /// dx + `addend` (a residual branch's gradient, same shape), added in the last pass.
    /// A `dy` nothing else holds (the product just before, passed straight in) becomes dx:
    /// both passes are elementwise, so no second tensor of its size is needed.
    func backward(_ dy: consuming Tensor, adding addend: Tensor?) -> Tensor {
        guard let recorded else { preconditionFailure("group norm backward without a recorded forward") }
        self.recorded = nil
        let shape = recorded.shape
        precondition(dy.count == shape.reduce(1, *), "group norm backward: dy \(dy.shape) for input \(shape)")
        let dx = isKnownUniquelyReferenced(&dy) && dy.shape == shape ? dy : Tensor(uninitialized: shape)
        context.timed("group norm backward") { inputGradient(recorded, dy, adding: addend, into: dx) }
        return dx
    }

    /// What forward recorded: the fp32 input, or a bf16 run's xhat.
    private enum RecordedInput {
        case fp32(Tensor), normalized(BF16Tensor)
        var shape: [Int] { switch self { case .fp32(let x): x.shape; case .normalized(let h): h.shape } }
    }

    /// Replaces the input recorded for backward (the statistics stay): for a caller that keeps
    /// it more cheaply between forward and backward, as `Conv2DLayer.recordInput`.
    func recordInput(_ x: Tensor?) {
        precondition(x == nil || x!.shape.last == channels, "group norm: recorded input \(x!.shape) for \(channels) channels")
        if case .normalized = recorded { preconditionFailure("group norm: an fp32 input recorded over a bf16 forward's xhat") }
        recorded = x.map { .fp32($0) }
    }

    private func inputGradient(_ recorded: RecordedInput, _ dy: Tensor, adding addend: Tensor?, into dx: Tensor) {
        let n = dy.shape[0], pixels = dy.count / (n * channels)
        let (C, G, cg) = (channels, groups, channels / groups)
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        // Per-image sums of dz and dz*xhat per channel: [n, 2C], reduced over images at the end.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: n * 2 * C)
        defer { partial.deallocate() }
        let silu = fusedSiLU
        mean.withUnsafeBufferPointer { meanP in rstd.withUnsafeBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let offset = b * pixels * C
                let dyb = dy.data + offset, dxb = dx.data + offset, addend = addend.map { $0.data + offset }
                let sums = partial + b * 2 * C
                let work = UnsafeMutablePointer<Float>.allocate(capacity: 5 * C)
                defer { work.deallocate() }
                let (chMean, chRstd, chA, chB, chD) = (work, work + C, work + 2 * C, work + 3 * C, work + 4 * C)
                for c in 0..<C { chMean[c] = meanP[b * G + c / cg]; chRstd[c] = rstdP[b * G + c / cg] }
                // Pass 1: dz into dx; channel sums of dz and dz*xhat.
                switch recorded {
                case .fp32(let x):
                    GroupNormKernel.backwardSums(x.data + offset, dyb, dz: dxb, pixels: pixels, channels: C, mean: chMean,
                                                 rstd: chRstd, gamma: gamma, beta: beta, silu: silu, sumDz: sums,
                                                 sumDzXhat: sums + C)
                case .normalized(let xhat):
                    GroupNormKernel.backwardSums(xhat: xhat.data + offset, dyb, dz: dxb, pixels: pixels, channels: C,
                                                 gamma: gamma, beta: beta, silu: silu, sumDz: sums, sumDzXhat: sums + C)
                }
                // Group means cA of dxhat = dz*gamma and cB of dxhat*xhat, folded into
                // dx = A dz + B xhat + D per channel: A = rstd gamma, B = -rstd cB, D = -rstd cA
                // (from fp32 x, B (x - mean) with B = -rstd^2 cB).
                let inv = 1 / Double(pixels * cg)
                for g in 0..<G {
                    var a = 0.0, bsum = 0.0
                    for c in (g * cg)..<((g + 1) * cg) {
                        a += Double(gamma[c]) * Double(sums[c])
                        bsum += Double(gamma[c]) * Double(sums[C + c])
                    }
                    let r = Double(rstdP[b * G + g])
                    let cA = a * inv, cB = bsum * inv
                    let onX: Double = if case .fp32 = recorded { r } else { 1 }
                    for c in (g * cg)..<((g + 1) * cg) {
                        chA[c] = Float(r * Double(gamma[c]))
                        chB[c] = Float(-r * onX * cB)
                        chD[c] = Float(-r * cA)
                    }
                }
                // Pass 2: dx.
                switch recorded {
                case .fp32(let x):
                    GroupNormKernel.inputGradient(x.data + offset, dz: dxb, pixels: pixels, channels: C, mean: chMean,
                                                  a: chA, b: chB, d: chD, addend: addend)
                case .normalized(let xhat):
                    GroupNormKernel.inputGradient(xhat: xhat.data + offset, dz: dxb, pixels: pixels, channels: C,
                                                  a: chA, b: chB, d: chD, addend: addend)
                }
            }
        } }
        let dgamma = store.grads + weightOffset, dbeta = store.grads + biasOffset
        for c in 0..<C {
            var s0 = 0.0, s1 = 0.0
            for b in 0..<n { s0 += Double(partial[b * 2 * C + c]); s1 += Double(partial[b * 2 * C + C + c]) }
            dbeta[c] += Float(s0); dgamma[c] += Float(s1)
        }
    }
}
