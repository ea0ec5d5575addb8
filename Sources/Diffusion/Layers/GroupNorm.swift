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
public final class GroupNorm {
    let store: ParameterStore
    let context: ForwardContext
    let channels, groups: Int
    let eps: Float
    let fusedSiLU: Bool
    let weightOffset, biasOffset: Int
    private var input: Tensor?
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

    /// The output rounded to bf16, for a bf16 convolution (which would round it anyway).
    /// With `recordsForBackward` the convolution keeps no copy: its backward asks
    /// `recomputedBF16` for the same values again.
    public func forwardBF16(_ x: Tensor) -> BF16Tensor {
        let y = BF16Tensor(uninitialized: x.shape)
        context.timed("group norm forward") { normalize(x, into: .bf16(y.data)) }
        return y
    }

    /// `forwardBF16`'s output again, bit for bit, from the recorded input and statistics: one
    /// pass that reads x and writes half its bytes, where keeping the output would hold
    /// those bytes from forward to backward.
    func recomputedBF16() -> BF16Tensor {
        guard let x = input else { preconditionFailure("group norm recompute without a recorded forward") }
        let y = BF16Tensor(uninitialized: x.shape)
        context.timed("group norm backward") {
            let n = x.shape[0], pixels = x.count / (n * channels), C = channels
            mean.withUnsafeBufferPointer { meanP in rstd.withUnsafeBufferPointer { rstdP in
                let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
                Parallel.forEach(n) { b in
                    let coefficients = UnsafeMutablePointer<Float>.allocate(capacity: 2 * C)
                    defer { coefficients.deallocate() }
                    let (scale, shift) = (coefficients, coefficients + C)
                    affineCoefficients(mean: meanP + b * groups, rstd: rstdP + b * groups, scale: scale, shift: shift)
                    GroupNormKernel.affineBF16(x.data + b * pixels * C, y.data + b * pixels * C, pixels: pixels, channels: C,
                                               scale: scale, shift: shift, silu: fusedSiLU)
                }
            } }
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
        let eps = self.eps, silu = fusedSiLU
        mean.withUnsafeMutableBufferPointer { meanP in rstd.withUnsafeMutableBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C
                let work = UnsafeMutablePointer<Float>.allocate(capacity: 4 * C)
                defer { work.deallocate() }
                let (sums, scale, shift) = (work + 2 * C, work, work + C)
                GroupNormKernel.statistics(xb, pixels: pixels, channels: C, groups: G, eps: eps, sums: sums,
                                           channelMean: shift, mean: meanP + b * G, rstd: rstdP + b * G)
                affineCoefficients(mean: meanP + b * G, rstd: rstdP + b * G, scale: scale, shift: shift)
                switch output {
                case .fp32(let y):
                    GroupNormKernel.affine(xb, y + b * pixels * C, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu)
                case .bf16(let y):
                    GroupNormKernel.affineBF16(xb, y + b * pixels * C, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu)
                }
            }
        } }
        if context.recordsForBackward { input = x; self.mean = mean; self.rstd = rstd } else { input = nil }
    }

    public func backward(_ dy: consuming Tensor) -> Tensor {
        backward(dy, adding: nil)
    }

    /// dx + `addend` (a residual branch's gradient, same shape), added in the last pass.
    /// A `dy` nothing else holds (the product just before, passed straight in) becomes dx:
    /// both passes are elementwise, so no second tensor of its size is needed.
    func backward(_ dy: consuming Tensor, adding addend: Tensor?) -> Tensor {
        guard let x = input else { preconditionFailure("group norm backward without a recorded forward") }
        input = nil
        precondition(dy.count == x.count, "group norm backward: dy \(dy.shape) for input \(x.shape)")
        let dx = isKnownUniquelyReferenced(&dy) && dy.shape == x.shape ? dy : Tensor(uninitialized: x.shape)
        context.timed("group norm backward") { inputGradient(x, dy, adding: addend, into: dx) }
        return dx
    }

    /// Replaces the input recorded for backward (the statistics stay): for a caller that keeps
    /// it more cheaply between forward and backward, as `Conv2DLayer.recordInput`.
    func recordInput(_ x: Tensor?) {
        precondition(x == nil || x!.shape.last == channels, "group norm: recorded input \(x!.shape) for \(channels) channels")
        input = x
    }

    private func inputGradient(_ x: Tensor, _ dy: Tensor, adding addend: Tensor?, into dx: Tensor) {
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G, cg) = (channels, groups, channels / groups)
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        // Per-image sums of dz and dz*xhat per channel: [n, 2C], reduced over images at the end.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: n * 2 * C)
        defer { partial.deallocate() }
        let silu = fusedSiLU
        mean.withUnsafeBufferPointer { meanP in rstd.withUnsafeBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C, dyb = dy.data + b * pixels * C, dxb = dx.data + b * pixels * C
                let sums = partial + b * 2 * C
                let work = UnsafeMutablePointer<Float>.allocate(capacity: 5 * C)
                defer { work.deallocate() }
                let (chMean, chRstd, chA, chB, chD) = (work, work + C, work + 2 * C, work + 3 * C, work + 4 * C)
                for c in 0..<C { chMean[c] = meanP[b * G + c / cg]; chRstd[c] = rstdP[b * G + c / cg] }
                // Pass 1: dz into dx; channel sums of dz and dz*xhat.
                GroupNormKernel.backwardSums(xb, dyb, dz: dxb, pixels: pixels, channels: C, mean: chMean, rstd: chRstd,
                                             gamma: gamma, beta: beta, silu: silu, sumDz: sums, sumDzXhat: sums + C)
                // Group means cA of dxhat = dz*gamma and cB of dxhat*xhat, folded into
                // dx = A dz + B (x - mean) + D per channel: A = rstd gamma, B = -rstd^2 cB, D = -rstd cA.
                let inv = 1 / Double(pixels * cg)
                for g in 0..<G {
                    var a = 0.0, bsum = 0.0
                    for c in (g * cg)..<((g + 1) * cg) {
                        a += Double(gamma[c]) * Double(sums[c])
                        bsum += Double(gamma[c]) * Double(sums[C + c])
                    }
                    let r = Double(rstdP[b * G + g])
                    let cA = a * inv, cB = bsum * inv
                    for c in (g * cg)..<((g + 1) * cg) {
                        chA[c] = Float(r * Double(gamma[c]))
                        chB[c] = Float(-r * r * cB)
                        chD[c] = Float(-r * cA)
                    }
                }
                // Pass 2: dx.
                GroupNormKernel.inputGradient(xb, dz: dxb, pixels: pixels, channels: C, mean: chMean,
                                              a: chA, b: chB, d: chD, addend: addend.map { $0.data + b * pixels * C })
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
