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
        precondition(x.shape.last == channels, "group norm expects \(channels) channels, got \(x.shape)")
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G) = (channels, groups)
        let y = Tensor(uninitialized: x.shape)
        var mean = [Float](repeating: 0, count: n * G), rstd = mean
        let gamma = store.values + weightOffset, beta = store.values + biasOffset
        let eps = self.eps, silu = fusedSiLU
        mean.withUnsafeMutableBufferPointer { meanP in rstd.withUnsafeMutableBufferPointer { rstdP in
            let meanP = meanP.baseAddress!, rstdP = rstdP.baseAddress!
            Parallel.forEach(n) { b in
                let xb = x.data + b * pixels * C, yb = y.data + b * pixels * C
                let work = UnsafeMutablePointer<Float>.allocate(capacity: 4 * C)
                defer { work.deallocate() }
                let (sums, scale, shift) = (work + 2 * C, work, work + C)
                GroupNormKernel.statistics(xb, pixels: pixels, channels: C, groups: G, eps: eps, sums: sums,
                                           channelMean: shift, mean: meanP + b * G, rstd: rstdP + b * G)
                // y = x * scale + shift per channel
                let cg = C / G
                for c in 0..<C {
                    let g = b * G + c / cg
                    scale[c] = rstdP[g] * gamma[c]
                    shift[c] = beta[c] - meanP[g] * rstdP[g] * gamma[c]
                }
                GroupNormKernel.affine(xb, yb, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu)
            }
        } }
        if context.recordsForBackward { input = x; self.mean = mean; self.rstd = rstd } else { input = nil }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        backward(dy, adding: nil)
    }

    /// dx + `addend` (a residual branch's gradient, same shape), added in the last pass.
    func backward(_ dy: Tensor, adding addend: Tensor?) -> Tensor {
        guard let x = input else { preconditionFailure("group norm backward without a recorded forward") }
        input = nil
        let n = x.shape[0], pixels = x.count / (n * channels)
        let (C, G, cg) = (channels, groups, channels / groups)
        let dx = Tensor(uninitialized: x.shape)
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
        return dx
    }
}

/// The per-image loops of GroupNorm, on rows of `channels` floats (one row per pixel).
/// Channels go 8 at a time in the outer loop so the per-channel vectors and accumulators
/// live in registers while the inner loop walks the pixels; a scalar loop takes C % 8.
enum GroupNormKernel {
    /// Group mean and 1/sqrt(var + eps) of one image in one pass over x: per channel, sums of
    /// d = x - s and d^2 with s the group's first value (pixel 0, first channel), so the
    /// variance E[d^2] - E[d]^2 does not cancel catastrophically when |mean| >> std (s is a
    /// sample of the group, typically within a few std of its mean). `sums` is 2C floats of
    /// scratch, `channelMean` C floats (left holding the shift).
    static func statistics(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, groups G: Int, eps: Float,
                           sums: UnsafeMutablePointer<Float>, channelMean: UnsafeMutablePointer<Float>,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        let cg = C / G
        let inv = 1 / Double(pixels * cg)
        for c in 0..<C { channelMean[c] = x[(c / cg) * cg] }
        channelMoments(x, pixels: pixels, channels: C, shift: channelMean, sum: sums, sumSquares: sums + C)
        for g in 0..<G {
            var s1 = 0.0, s2 = 0.0
            for c in (g * cg)..<((g + 1) * cg) { s1 += Double(sums[c]); s2 += Double(sums[C + c]) }
            let m = s1 * inv
            mean[g] = Float(Double(channelMean[g * cg]) + m)
            rstd[g] = Float(1 / (max(s2 * inv - m * m, 0) + Double(eps)).squareRoot())
        }
    }

    /// sum[c] = sum over pixels of (x[p, c] - shift[c]), sumSquares[c] of its square.
    static func channelMoments(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, shift: UnsafePointer<Float>,
                               sum: UnsafeMutablePointer<Float>, sumSquares: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 8 <= C {
            var a0 = Float8(), a1 = Float8(), q0 = Float8(), q1 = Float8()
            var p = x + c, i = 0
            let m = load8(shift + c)
            while i + 2 <= pixels {
                let d0 = load8(p) - m, d1 = load8(p + C) - m
                a0 += d0; a1 += d1
                q0 = q0.addingProduct(d0, d0); q1 = q1.addingProduct(d1, d1)
                p += 2 * C; i += 2
            }
            if i < pixels { let d = load8(p) - m; a0 += d; q0 = q0.addingProduct(d, d) }
            store8(a0 + a1, sum + c); store8(q0 + q1, sumSquares + c)
            c += 8
        }
        while c < C {
            var s: Float = 0, q: Float = 0
            let m = shift[c]
            for p in 0..<pixels { let d = x[p * C + c] - m; s += d; q += d * d }
            sum[c] = s; sumSquares[c] = q
            c += 1
        }
    }

    /// y = x * scale + shift per channel, then SiLU when `silu`. y may alias x.
    static func affine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pixels: Int, channels C: Int,
                       scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, silu: Bool) {
        var c = 0
        while c + 8 <= C {
            let s = load8(scale + c), t = load8(shift + c)
            var xp = x + c, yp = y + c
            if silu {
                for _ in 0..<pixels { store8(SiLU.forward8(t.addingProduct(load8(xp), s)), yp); xp += C; yp += C }
            } else {
                for _ in 0..<pixels { store8(t.addingProduct(load8(xp), s), yp); xp += C; yp += C }
            }
            c += 8
        }
        while c < C {
            for p in 0..<pixels {
                let z = x[p * C + c] * scale[c] + shift[c]
                y[p * C + c] = silu ? z * SiLU.sigmoid(z) : z
            }
            c += 1
        }
    }

    /// dz = dy (or dy silu'(z), z = xhat gamma + beta) written to `dz` (may alias dy);
    /// sumDz[c] = sum over pixels of dz, sumDzXhat[c] = sum of dz xhat.
    static func backwardSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>,
                             pixels: Int, channels C: Int, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                             gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool,
                             sumDz: UnsafeMutablePointer<Float>, sumDzXhat: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 8 <= C {
            let m = load8(mean + c), r = load8(rstd + c), ga = load8(gamma + c), be = load8(beta + c)
            var s0 = Float8(), s1 = Float8(), t0 = Float8(), t1 = Float8()
            var off = c, i = 0
            // Two pixels per step, each into its own accumulator pair.
            while i + 2 <= pixels {
                let xh0 = (load8(x + off) - m) * r, xh1 = (load8(x + off + C) - m) * r
                var d0 = load8(dy + off), d1 = load8(dy + off + C)
                if silu {
                    d0 = SiLU.backward8(be.addingProduct(xh0, ga), d0)
                    d1 = SiLU.backward8(be.addingProduct(xh1, ga), d1)
                }
                store8(d0, dz + off); store8(d1, dz + off + C)
                s0 += d0; s1 += d1
                t0 = t0.addingProduct(d0, xh0); t1 = t1.addingProduct(d1, xh1)
                off += 2 * C; i += 2
            }
            if i < pixels {
                let xh = (load8(x + off) - m) * r
                var d = load8(dy + off)
                if silu { d = SiLU.backward8(be.addingProduct(xh, ga), d) }
                store8(d, dz + off)
                s0 += d; t0 = t0.addingProduct(d, xh)
            }
            store8(s0 + s1, sumDz + c); store8(t0 + t1, sumDzXhat + c)
            c += 8
        }
        while c < C {
            var s: Float = 0, t: Float = 0
            for p in 0..<pixels {
                let xh = (x[p * C + c] - mean[c]) * rstd[c]
                var d = dy[p * C + c]
                if silu {
                    let z = xh * gamma[c] + beta[c], sg = SiLU.sigmoid(z)
                    d *= sg * (1 + z * (1 - sg))
                }
                dz[p * C + c] = d
                s += d; t += d * xh
            }
            sumDz[c] = s; sumDzXhat[c] = t
            c += 1
        }
    }

    /// dx = a dz + b (x - mean) + d (+ addend) per channel; dz is overwritten by dx.
    static func inputGradient(_ x: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>, pixels: Int, channels C: Int,
                              mean: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              d: UnsafePointer<Float>, addend: UnsafePointer<Float>?) {
        var c = 0
        while c + 8 <= C {
            let mv = load8(mean + c), av = load8(a + c), bv = load8(b + c), dv = load8(d + c)
            var off = c
            if let addend {
                for _ in 0..<pixels {
                    let r = dv.addingProduct(av, load8(dz + off)).addingProduct(bv, load8(x + off) - mv)
                    store8(r + load8(addend + off), dz + off)
                    off += C
                }
            } else {
                for _ in 0..<pixels {
                    store8(dv.addingProduct(av, load8(dz + off)).addingProduct(bv, load8(x + off) - mv), dz + off)
                    off += C
                }
            }
            c += 8
        }
        while c < C {
            for p in 0..<pixels {
                let i = p * C + c
                dz[i] = a[c] * dz[i] + b[c] * (x[i] - mean[c]) + d[c] + (addend?[i] ?? 0)
            }
            c += 1
        }
    }
}
