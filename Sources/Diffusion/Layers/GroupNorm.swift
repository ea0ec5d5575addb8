import Foundation

/// GroupNorm over NHWC, optionally fused with a following SiLU (the U-Net always applies
/// SiLU right after its resnet and output norms; fusing saves a pass and a tensor).
///
///   x: [N, H, W, C] -> y: same;  groups G, C/G channels each; statistics per (n, g)
///   forward   z = (x - mean) * rstd * gamma + beta;  y = z, or silu(z)
///   backward  dz = dy (or dy * silu'(z));  dgamma += sum dz xhat;  dbeta += sum dz
///             dx = rstd (dz gamma - mean_g(dz gamma) - xhat mean_g(dz gamma xhat))
/// Parameters `NAME.weight` (gamma) and `NAME.bias` (beta), [C].
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
        precondition(x.shape.last == channels, "group norm expects \(channels) channels, got \(x.shape)")
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G, cg) = (channels, groups, channels / groups)
        let y = Tensor(uninitialized: x.shape)
        var mean = [Float](repeating: 0, count: n * G), rstd = mean
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        let eps = Double(self.eps), silu = fusedSiLU
        mean.withUnsafeMutableBufferPointer { meanP in rstd.withUnsafeMutableBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C, yb = y.data + b * pixels * C
                let chanSum = UnsafeMutablePointer<Double>.allocate(capacity: C)
                defer { chanSum.deallocate() }
                let inv = 1 / Double(pixels * cg)
                // Two passes (mean, then centred squares) for accuracy.
                chanSum.initialize(repeating: 0, count: C)
                for p in 0..<pixels { let row = xb + p * C; for c in 0..<C { chanSum[c] += Double(row[c]) } }
                for g in 0..<G {
                    var s = 0.0; for c in (g * cg)..<((g + 1) * cg) { s += chanSum[c] }
                    meanP[b * G + g] = Float(s * inv)
                }
                chanSum.update(repeating: 0, count: C)
                for p in 0..<pixels {
                    let row = xb + p * C
                    for c in 0..<C { let d = Double(row[c] - meanP[b * G + c / cg]); chanSum[c] += d * d }
                }
                for g in 0..<G {
                    var s = 0.0; for c in (g * cg)..<((g + 1) * cg) { s += chanSum[c] }
                    rstdP[b * G + g] = Float(1 / (s * inv + eps).squareRoot())
                }
                // Per-channel scale and shift, then one fused pass.
                let scale = UnsafeMutablePointer<Float>.allocate(capacity: 2 * C)
                defer { scale.deallocate() }
                for c in 0..<C {
                    let g = b * G + c / cg
                    scale[c] = rstdP[g] * gamma[c]
                    scale[C + c] = beta[c] - meanP[g] * rstdP[g] * gamma[c]
                }
                for p in 0..<pixels {
                    let xr = xb + p * C, yr = yb + p * C
                    if silu {
                        for c in 0..<C { let z = xr[c] * scale[c] + scale[C + c]; yr[c] = z / (1 + expf(-z)) }
                    } else {
                        for c in 0..<C { yr[c] = xr[c] * scale[c] + scale[C + c] }
                    }
                }
            }
        } }
        if context.recordsForBackward { input = x; self.mean = mean; self.rstd = rstd } else { input = nil }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("group norm backward without a recorded forward") }
        input = nil
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G, cg) = (channels, groups, channels / groups)
        let dx = Tensor(uninitialized: x.shape)
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        // Per-image partial sums of dz and dz*xhat per channel: [n, 2C], reduced at the end.
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: n * 2 * C)
        partial.initialize(repeating: 0, count: n * 2 * C)
        defer { partial.deallocate() }
        let silu = fusedSiLU
        mean.withUnsafeBufferPointer { meanP in rstd.withUnsafeBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C, dyb = dy.data + b * pixels * C, dxb = dx.data + b * pixels * C
                let sums = partial + b * 2 * C
                // Pass 1: dz into dx, channel sums of dz and dz*xhat.
                for p in 0..<pixels {
                    let xr = xb + p * C, dyr = dyb + p * C, dzr = dxb + p * C
                    for c in 0..<C {
                        let g = b * G + c / cg
                        let xhat = (xr[c] - meanP[g]) * rstdP[g]
                        var dz = dyr[c]
                        if silu {
                            let z = xhat * gamma[c] + beta[c]
                            let s = 1 / (1 + expf(-z))
                            dz *= s * (1 + z * (1 - s))
                        }
                        dzr[c] = dz
                        sums[c] += Double(dz)
                        sums[C + c] += Double(dz * xhat)
                    }
                }
                // Group means of dxhat = dz*gamma and of dxhat*xhat.
                let coef = UnsafeMutablePointer<Float>.allocate(capacity: 2 * G)
                defer { coef.deallocate() }
                let inv = 1 / Double(pixels * cg)
                for g in 0..<G {
                    var a = 0.0, bsum = 0.0
                    for c in (g * cg)..<((g + 1) * cg) {
                        a += Double(gamma[c]) * sums[c]
                        bsum += Double(gamma[c]) * sums[C + c]
                    }
                    coef[g] = Float(a * inv); coef[G + g] = Float(bsum * inv)
                }
                // Pass 2: dx.
                for p in 0..<pixels {
                    let xr = xb + p * C, dr = dxb + p * C
                    for c in 0..<C {
                        let gl = c / cg, g = b * G + gl
                        let xhat = (xr[c] - meanP[g]) * rstdP[g]
                        dr[c] = rstdP[g] * (dr[c] * gamma[c] - coef[gl] - xhat * coef[G + gl])
                    }
                }
            }
        } }
        let dgamma = store.grads + weightOffset, dbeta = store.grads + biasOffset
        for c in 0..<C {
            var s0 = 0.0, s1 = 0.0
            for b in 0..<n { s0 += partial[b * 2 * C + c]; s1 += partial[b * 2 * C + C + c] }
            dbeta[c] += Float(s0); dgamma[c] += Float(s1)
        }
        return dx
    }
}
