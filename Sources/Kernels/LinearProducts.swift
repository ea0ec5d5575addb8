/// The products of a linear layer with weight W [n, k] (row-major, PyTorch's layout):
/// forward y = x W^T, backward dx = dy W and dW += dy^T x, on the path its precision takes.
///
/// bf16 runs oneDNN's matmul (`OneDNNMatmul`: inputs and W rounded to bf16, fp32 sums and
/// outputs, as autocast does) where oneDNN has native bf16 (AVX512-BF16 or AMX); it ran the
/// U-Net's linears at about twice the fp32 path's rate on a Zen 4 (docs/kernels.md). fp32,
/// and bf16 where oneDNN has no primitive, run `GEMM` (our AVX-512 kernel or OpenBLAS).
package enum LinearProducts {
    /// True when `precision` takes oneDNN's matmul on this CPU.
    package static func runsOneDNN(_ precision: ConvolutionPrecision) -> Bool {
        precision == .bf16 && OneDNN.hasNativeBF16
    }

    /// y[m, n] (rows `ldy` apart) = x[m, k] W^T plus what `prologue(rows)` writes into those
    /// rows of y first (bias, residual): `GEMM.rows` with beta 1.
    package static func forward(m: Int, k: Int, n: Int, x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>,
                                y: UnsafeMutablePointer<Float>, ldy: Int, precision: ConvolutionPrecision,
                                prologue: @escaping (Range<Int>) -> Void) {
        if m <= 0 { return }
        if runsOneDNN(precision),
           OneDNNMatmul.forward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, y: y, ldy: ldy, precision: precision,
                                prologue: prologue) {
            return
        }
        GEMM.rows(m: m, n: n, k: k, a: x, lda: ldx, b: weight, ldb: k, transB: true, c: y, ldc: ldy, beta: 1,
                  prologue: prologue)
    }

    /// dW[n, k] += dy[m, n]^T x[m, k] and, when `dx` is given, dx[m, k] = dy W.
    package static func backward(m: Int, k: Int, n: Int, x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>,
                                 dy: UnsafePointer<Float>, lddy: Int, dx: UnsafeMutablePointer<Float>?, lddx: Int,
                                 dweight: UnsafeMutablePointer<Float>, precision: ConvolutionPrecision) {
        if m <= 0 { return }
        if runsOneDNN(precision),
           OneDNNMatmul.backward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, dy: dy, lddy: lddy, dx: dx, lddx: lddx,
                                 dweight: dweight, precision: precision) {
            return
        }
        GEMM.accumulateATB(m: m, k: n, n: k, a: dy, lda: lddy, b: x, ldb: ldx, c: dweight)
        if let dx {
            GEMM.rows(m: m, n: k, k: n, a: dy, lda: lddy, b: weight, ldb: k, c: dx, ldc: lddx)
        }
    }
}
