/// The products of a linear layer with weight W [n, k] (row-major, PyTorch's layout):
/// forward y = x W^T, backward dx = dy W and dW += dy^T x, on the path its precision takes.
///
/// bf16 runs oneDNN's matmul (`OneDNNMatmul`: inputs and W rounded to bf16, fp32 sums and
/// outputs, as autocast does) where oneDNN has native bf16 (AVX512-BF16 or AMX) and the
/// shape is one where it measured faster (`runsOneDNN`); fp32, and bf16 elsewhere, run
/// `GEMM` (our AVX-512 kernel or OpenBLAS) as before.
package enum LinearProducts {
    /// True when this product takes oneDNN's bf16 matmul. `bench kernels --only linears`
    /// (Zen 4, one thread, 2026-12-06; docs/kernels.md) ran it at 1.2-2.4x the GEMM paths on
    /// the U-Net's attention projections, except the forward product of 32 -> 32 channels
    /// (0.9x; its dx and dW still gain 1.0-1.2x). The rule looks at the widths only, not at
    /// the rows: those are the rank's share of the batch, and a path that changed with
    /// them would make results depend on the number of ranks.
    package static func runsOneDNN(_ precision: ConvolutionPrecision, k: Int, n: Int, forward: Bool) -> Bool {
        precision == .bf16 && OneDNN.hasNativeBF16 && (!forward || k + n > 64)
    }

    /// y[m, n] (rows `ldy` apart) = x[m, k] W^T + bias (+ residual [m, n], dense).
    /// On `GEMM` the bias (and residual) are written into each piece's rows of y first and
    /// the product added with beta = 1: one pass over y instead of three.
    /// x may be bf16 already (dense, `ldx` = k): oneDNN reads it as it is, GEMM widened.
    package static func forward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>, ldy: Int, precision: ConvolutionPrecision) {
        if m <= 0 { return }
        if runsOneDNN(precision, k: k, n: n, forward: true),
           OneDNNMatmul.forward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, bias: bias, residual: residual,
                                y: y, ldy: ldy, precision: precision) {
            return
        }
        x.withFP32(count: m * ldx) { x in
            GEMM.rows(m: m, n: n, k: k, a: x, lda: ldx, b: weight, ldb: k, transB: true, c: y, ldc: ldy, beta: 1) { rows in
                for r in rows {
                    if let residual {
                        Vectorized.sum(bias, residual + r * n, into: y + r * ldy, count: n)
                    } else {
                        Vectorized.copy(bias, to: y + r * ldy, count: n)
                    }
                }
            }
        }
    }

    /// `forward` without a residual, y written in bf16 (rounded to nearest even): for outputs
    /// that only feed bf16 arithmetic. On `GEMM` the fp32 y is rounded row by row.
    package static func forward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>, bf16Output y: UnsafeMutablePointer<UInt16>, ldy: Int,
                                precision: ConvolutionPrecision) {
        if m <= 0 { return }
        if runsOneDNN(precision, k: k, n: n, forward: true),
           OneDNNMatmul.forward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, bias: bias, bf16Output: y, ldy: ldy) {
            return
        }
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { wide.deallocate() }
        forward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, bias: bias, residual: nil, y: wide, ldy: n, precision: precision)
        for r in 0..<m { BFloat16.round(wide + r * n, y + r * ldy, count: n) }
    }

    /// dW[n, k] += dy[m, n]^T x[m, k] and, when `dx` is given, dx[m, k] = dy W.
    /// x as in `forward`.
    package static func backward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                 dy: UnsafePointer<Float>, lddy: Int, dx: UnsafeMutablePointer<Float>?, lddx: Int,
                                 dweight: UnsafeMutablePointer<Float>, precision: ConvolutionPrecision) {
        if m <= 0 { return }
        if runsOneDNN(precision, k: k, n: n, forward: false),
           OneDNNMatmul.backward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, dy: dy, lddy: lddy, dx: dx, lddx: lddx,
                                 dweight: dweight, precision: precision) {
            return
        }
        x.withFP32(count: m * ldx) { x in GEMM.accumulateATB(m: m, k: n, n: k, a: dy, lda: lddy, b: x, ldb: ldx, c: dweight) }
        if let dx {
            GEMM.rows(m: m, n: k, k: n, a: dy, lda: lddy, b: weight, ldb: k, c: dx, ldc: lddx)
        }
    }
}
