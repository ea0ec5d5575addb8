import CAVX512

/// The per-image loops of GroupNorm, on rows of `channels` floats (one row per pixel).
/// Channels go 8 at a time in the outer loop so the per-channel vectors and accumulators
/// live in registers while the inner loop walks the pixels; a scalar loop takes C % 8.
/// With C % 16 == 0 on a CPU with AVX-512, the C versions in Sources/CAVX512 run instead.
package enum GroupNormKernel {
    /// Group mean and 1/sqrt(var + eps) of one image in one pass over x: per channel, sums of
    /// d = x - s and d^2 with s the group's first value (pixel 0, first channel), so the
    /// variance E[d^2] - E[d]^2 does not cancel catastrophically when |mean| >> std (s is a
    /// sample of the group, typically within a few std of its mean). `sums` is 2C floats of
    /// scratch, `channelMean` C floats (left holding the shift).
    package static func statistics(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, groups G: Int, eps: Float,
                           sums: UnsafeMutablePointer<Float>, channelMean: UnsafeMutablePointer<Float>,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                           path: KernelPath = .best) {
        let cg = C / G
        let inv = 1 / Double(pixels * cg)
        for c in 0..<C { channelMean[c] = x[(c / cg) * cg] }
        channelMoments(x, pixels: pixels, channels: C, shift: channelMean, sum: sums, sumSquares: sums + C, path: path)
        for g in 0..<G {
            var s1 = 0.0, s2 = 0.0
            for c in (g * cg)..<((g + 1) * cg) { s1 += Double(sums[c]); s2 += Double(sums[C + c]) }
            let m = s1 * inv
            mean[g] = Float(Double(channelMean[g * cg]) + m)
            rstd[g] = Float(1 / (max(s2 * inv - m * m, 0) + Double(eps)).squareRoot())
        }
    }

    /// sum[c] = sum over pixels of (x[p, c] - shift[c]), sumSquares[c] of its square.
    package static func channelMoments(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, shift: UnsafePointer<Float>,
                               sum: UnsafeMutablePointer<Float>, sumSquares: UnsafeMutablePointer<Float>,
                               path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_moments(x, pixels, C, shift, sum, sumSquares)
        }
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
    package static func affine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pixels: Int, channels C: Int,
                       scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, silu: Bool,
                       path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_affine(x, y, pixels, C, scale, shift, silu ? 1 : 0)
        }
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

    /// `affine` with y rounded to bfloat16 as it is stored (`BFloat16.round`).
    package static func affineBF16(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt16>, pixels: Int, channels C: Int,
                                   scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, silu: Bool,
                                   path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_affine_bf16(x, y, pixels, C, scale, shift, silu ? 1 : 0, nativeRounding)
        }
        // One pixel row at a time through `affine`, then rounded: the same fp32 values.
        let row = UnsafeMutablePointer<Float>.allocate(capacity: C)
        defer { row.deallocate() }
        for p in 0..<pixels {
            affine(x + p * C, row, pixels: 1, channels: C, scale: scale, shift: shift, silu: silu, path: .swift)
            BFloat16.round(row, y + p * C, count: C, path: path)
        }
    }

    /// The bf16 norm of a bf16 run, on one image: xhat = x scale + shift (scale = rstd, shift =
    /// -mean rstd) rounded to bf16, stored to `xhat` when given (what backward reads); then
    /// y = `affine` of the rounded xhat by gamma and beta (SiLU'd when `silu`), rounded to bf16.
    package static func normalizeBF16(_ x: UnsafePointer<Float>, xhat: UnsafeMutablePointer<UInt16>?,
                                      _ y: UnsafeMutablePointer<UInt16>, pixels: Int, channels C: Int,
                                      scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                      gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool,
                                      path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_normalize_bf16(x, xhat, y, pixels, C, scale, shift, gamma, beta, silu ? 1 : 0, nativeRounding)
        }
        let row = UnsafeMutablePointer<UInt16>.allocate(capacity: C)
        defer { row.deallocate() }
        for p in 0..<pixels {
            let h = xhat.map { $0 + p * C } ?? row
            affineBF16(x + p * C, h, pixels: 1, channels: C, scale: scale, shift: shift, silu: false, path: .swift)
            affineBF16(input: h, y + p * C, pixels: 1, channels: C, scale: gamma, shift: beta, silu: silu, path: .swift)
        }
    }

    /// `affineBF16` on a bf16 x: the norm's output again from its xhat (scale gamma, shift
    /// beta), or its input from xhat (scale 1/rstd, shift mean). y may not alias x.
    package static func affineBF16(input x: UnsafePointer<UInt16>, _ y: UnsafeMutablePointer<UInt16>, pixels: Int,
                                   channels C: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                   silu: Bool, path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_affine_bf16_input(x, y, pixels, C, scale, shift, silu ? 1 : 0, nativeRounding)
        }
        withWidened(x, count: pixels * C) { wide in
            affineBF16(wide, y, pixels: pixels, channels: C, scale: scale, shift: shift, silu: silu, path: .swift)
        }
    }

    /// `backwardSums` on a recorded bf16 xhat: dz, and the channel sums of dz and dz xhat.
    package static func backwardSums(xhat: UnsafePointer<UInt16>, _ dy: UnsafePointer<Float>,
                                     dz: UnsafeMutablePointer<Float>, pixels: Int, channels C: Int,
                                     gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool,
                                     sumDz: UnsafeMutablePointer<Float>, sumDzXhat: UnsafeMutablePointer<Float>,
                                     path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_backward_sums_bf16(xhat, dy, dz, pixels, C, gamma, beta, silu ? 1 : 0, sumDz, sumDzXhat)
        }
        // xhat widened is exact, and (xhat - 0) 1 is xhat: the fp32 loop with mean 0 and rstd 1.
        withWidened(xhat, count: pixels * C) { wide in
            withIdentityStatistics(C) { zero, one in
                backwardSums(wide, dy, dz: dz, pixels: pixels, channels: C, mean: zero, rstd: one, gamma: gamma,
                             beta: beta, silu: silu, sumDz: sumDz, sumDzXhat: sumDzXhat, path: .swift)
            }
        }
    }

    /// dx = a dz + b xhat + d (+ addend) per channel on a recorded bf16 xhat; dz is overwritten by dx.
    package static func inputGradient(xhat: UnsafePointer<UInt16>, dz: UnsafeMutablePointer<Float>, pixels: Int,
                                      channels C: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                      d: UnsafePointer<Float>, addend: UnsafePointer<Float>?, path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_input_gradient_bf16(xhat, dz, pixels, C, a, b, d, addend)
        }
        withWidened(xhat, count: pixels * C) { wide in
            withIdentityStatistics(C) { zero, _ in
                inputGradient(wide, dz: dz, pixels: pixels, channels: C, mean: zero, a: a, b: b, d: d,
                              addend: addend, path: .swift)
            }
        }
    }

    /// The C kernels' `native` argument (`BFloat16.roundsNatively`).
    private static var nativeRounding: Int32 { BFloat16.roundsNatively ? 1 : 0 }

    private static func withWidened<R>(_ x: UnsafePointer<UInt16>, count: Int, _ body: (UnsafePointer<Float>) -> R) -> R {
        ActivationInput.bf16(x).withFP32(count: count, body)
    }

    /// C zeros and C ones: a mean and rstd under which the fp32 loops read x as xhat.
    private static func withIdentityStatistics<R>(_ C: Int, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 2 * C)
        defer { buffer.deallocate() }
        buffer.update(repeating: 0, count: C)
        (buffer + C).update(repeating: 1, count: C)
        return body(buffer, buffer + C)
    }

    /// dz = dy (or dy silu'(z), z = xhat gamma + beta) written to `dz` (may alias dy);
    /// sumDz[c] = sum over pixels of dz, sumDzXhat[c] = sum of dz xhat.
    package static func backwardSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>,
                             pixels: Int, channels C: Int, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                             gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool,
                             sumDz: UnsafeMutablePointer<Float>, sumDzXhat: UnsafeMutablePointer<Float>,
                             path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_backward_sums(x, dy, dz, pixels, C, mean, rstd, gamma, beta, silu ? 1 : 0,
                                                  sumDz, sumDzXhat)
        }
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
    package static func inputGradient(_ x: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>, pixels: Int, channels C: Int,
                              mean: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              d: UnsafePointer<Float>, addend: UnsafePointer<Float>?, path: KernelPath = .best) {
        if path.runsAVX512(when: C % 16 == 0) {
            return avx512_groupnorm_input_gradient(x, dz, pixels, C, mean, a, b, d, addend)
        }
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
