/// diffusers' `Attention` as the U-Net uses it on feature maps (group norm, q/k/v projections,
/// multi-head attention, output projection, residual; rescale_output_factor 1).
///
///   x: [N, H, W, C] -> y = x + to_out(attention(to_q(gn(x)), to_k(gn(x)), to_v(gn(x))))
/// Parameters NAME.group_norm, NAME.to_q, NAME.to_k, NAME.to_v, NAME.to_out.0.
///
/// The three projections run as one GEMM against their weights stacked into a [3C, C]
/// copy (parameters stay separate tensors in the store), giving rows [q | k | v] that the
/// attention kernel reads with stride 3C; backward mirrors it (one dW GEMM, one dx GEMM).
/// The residual is folded into to_out's output and into the norm's input gradient.
///
/// With bf16 activations (`ForwardContext.bf16Activations`) the norm writes bf16 for the
/// projections, and where the heads take the bf16 kernels q, k, v and o are held in bf16
/// too: the kernels round them to bf16 where they pack them anyway, so the results are
/// the same bit for bit (`BF16ActivationTests`) at half the memory.
public final class AttentionBlock {
    let context: ForwardContext
    let channels, heads, headDim: Int
    let norm: GroupNorm
    let toQ, toK, toV, toOut: Linear
    /// q|k|v rows and the attention's output o, in fp32 or both in bf16. A nil bf16 qkv is
    /// projected again in backward from the norm's output (`recomputesAttentionProjections`).
    private enum Operands {
        case fp32(qkv: Tensor, o: Tensor), bf16(qkv: BF16Tensor?, o: BF16Tensor)
    }
    /// `normOutput` gives backward h, the norm's output: fp32, or with bf16 activations bf16,
    /// recomputed by the norm, as `Conv2DLayer` records its input.
    private var saved: (normOutput: () -> HeldActivation, operands: Operands, lse: Tensor, w: Tensor)?

    public init(_ store: ParameterStore, _ context: ForwardContext, name: String,
                channels: Int, headDim: Int, groups: Int, eps: Float) {
        precondition(channels % headDim == 0, "\(name): \(channels) channels not divisible by head dim \(headDim)")
        self.context = context
        self.channels = channels; self.headDim = headDim; self.heads = channels / headDim
        norm = GroupNorm(store, context, name: name + ".group_norm", channels: channels, groups: groups, eps: eps, fusedSiLU: false)
        toQ = Linear(store, context, name: name + ".to_q", in: channels, out: channels)
        toK = Linear(store, context, name: name + ".to_k", in: channels, out: channels)
        toV = Linear(store, context, name: name + ".to_v", in: channels, out: channels)
        toOut = Linear(store, context, name: name + ".to_out.0", in: channels, out: channels)
    }

    func initialize(_ rng: inout RandomStream) {
        norm.initialize()
        for l in [toQ, toK, toV, toOut] { l.initialize(&rng) }
    }

    /// [3C*C weights | 3C biases]: to_q, to_k, to_v stacked.
    func stackedProjection() -> Tensor {
        let C = channels
        let w = Tensor(uninitialized: [3 * C * C + 3 * C])
        for (j, l) in [toQ, toK, toV].enumerated() {
            (w.data + j * C * C).update(from: l.weight, count: C * C)
            (w.data + 3 * C * C + j * C).update(from: l.bias, count: C)
        }
        return w
    }

    /// q|k|v rows in bf16, [rows, 3C]: the stacked projection `w` of the norm's output `h`.
    private func projectBF16(_ h: ActivationInput, _ w: Tensor, rows: Int) -> BF16Tensor {
        let C = channels, qkv = BF16Tensor(uninitialized: [rows, 3 * C])
        context.timed("linear forward") {
            LinearProducts.forward(m: rows, k: C, n: 3 * C, x: h, ldx: C, weight: w.data, bias: w.data + 3 * C * C,
                                   bf16Output: qkv.data, ldy: 3 * C, precision: context.linearPrecision)
        }
        return qkv
    }

    public func forward(_ x: Tensor) -> Tensor {
        let n = x.shape[0], C = channels, L = x.count / (n * C), M = n * L
        // The norm writes bf16 where the projections' products are oneDNN's bf16 ones, which
        // read it as it is; narrow ones stay on fp32 GEMM, which never rounds its input.
        let bf16 = context.bf16Activations && LinearProducts.runsOneDNN(context.linearPrecision, k: C, n: 3 * C, forward: true)
        let h = bf16 ? nil : norm.forward(x), hb = bf16 ? norm.forwardBF16(x) : nil
        let w = stackedProjection()
        let x16: ActivationInput = hb.map { .bf16($0.data) } ?? .fp32(h!.data)
        let lse = Tensor(uninitialized: [n, heads, L])
        let operands: Operands, y: Tensor
        let precision = context.linearPrecision
        // q, k, v and o in bf16 where the heads take the bf16 kernels and to_out oneDNN's bf16
        // matmul: both round them to bf16 anyway (a narrow to_out on GEMM would not).
        if context.bf16Activations && ScaledDotProductAttention.holdsBF16(length: L, headDim: headDim, precision: precision)
            && LinearProducts.runsOneDNN(precision, k: C, n: C, forward: true) {
            let qkv = withExtendedLifetime(hb) { projectBF16(x16, w, rows: M) }, o = BF16Tensor(uninitialized: x.shape)
            context.timed("attention forward") {
                ScaledDotProductAttention.forward(n: n, length: L, heads: heads, bf16: qkv.data, k: qkv.data + C,
                                                  v: qkv.data + 2 * C, ld: 3 * C, o: o.data, ldo: C, lse: lse.data)
            }
            y = toOut.forward(bf16: o, residual: x)
            // q|k|v (3/4 of what attention keeps) can be made again too: the same product on
            // the recomputed norm output, which has the same bits.
            operands = .bf16(qkv: context.recomputesAttentionProjections ? nil : qkv, o: o)
        } else {
            let qkv = Tensor(uninitialized: [n, L, 3 * C]), o = Tensor(uninitialized: x.shape)
            context.timed("linear forward") {
                withExtendedLifetime(hb) {
                    Linear.apply(m: M, in: C, out: 3 * C, x: x16, ldx: C, weight: w.data, bias: w.data + 3 * C * C,
                                 residual: nil, y: qkv.data, ldy: 3 * C, precision: precision)
                }
            }
            context.timed("attention forward") {
                ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: headDim,
                                                  q: qkv.data, k: qkv.data + C, v: qkv.data + 2 * C, ld: 3 * C,
                                                  o: o.data, ldo: C, lse: lse.data, precision: precision)
            }
            y = toOut.forward(o, residual: x)
            operands = .fp32(qkv: qkv, o: o)
        }
        if context.recordsForBackward {
            let normOutput: () -> HeldActivation
            // In bf16 the norm's output is made again from its xhat, always: with no SiLU that is
            // one multiply-add a value (seed preset: 36 MiB less held, under 1 ms a step).
            if let h { normOutput = { .fp32(h) } } else { normOutput = { [norm] in .bf16(norm.recomputedBF16()) } }
            saved = (normOutput, operands, lse, w)
        } else {
            saved = nil
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let s = saved else { preconditionFailure("attention backward without a recorded forward") }
        saved = nil
        let n = dy.shape[0], C = channels, L = dy.count / (n * C), M = n * L
        let dO = toOut.backward(dy)
        let dqkv = Tensor(uninitialized: [n, L, 3 * C])
        let h = s.normOutput()
        // q|k|v again where forward did not keep it.
        let projected: BF16Tensor? = if case .bf16(nil, _) = s.operands {
            withExtendedLifetime(h) { projectBF16(h.input, s.w, rows: M) }
        } else { nil }
        context.timed("attention backward") {
            switch s.operands {
            case .fp32(let qkv, let o):
                ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: headDim,
                                                   q: qkv.data, k: qkv.data + C, v: qkv.data + 2 * C, ld: 3 * C,
                                                   o: o.data, dout: dO.data, ldo: C, lse: s.lse.data,
                                                   dq: dqkv.data, dk: dqkv.data + C, dv: dqkv.data + 2 * C, ldd: 3 * C,
                                                   precision: context.linearPrecision)
            case .bf16(let kept, let o):
                let qkv = kept ?? projected!
                ScaledDotProductAttention.backward(n: n, length: L, heads: heads, bf16: qkv.data, k: qkv.data + C,
                                                   v: qkv.data + 2 * C, ld: 3 * C, o: o.data, dout: dO.data, ldo: C,
                                                   lse: s.lse.data, dq: dqkv.data, dk: dqkv.data + C,
                                                   dv: dqkv.data + 2 * C, ldd: 3 * C)
            }
        }
        // Stacked parameter gradients, then handed to the three tensors.
        let dh = Tensor(uninitialized: [n, L, C])
        context.timed("linear backward") {
            let g = Tensor(shape: [3 * C * C + 3 * C])
            GEMM.accumulateColumnSums(rows: M, cols: 3 * C, x: dqkv.data, into: g.data + 3 * C * C)
            withExtendedLifetime(h) {
                LinearProducts.backward(m: M, k: C, n: 3 * C, x: h.input, ldx: C,
                                        weight: s.w.data, dy: dqkv.data, lddy: 3 * C, dx: dh.data, lddx: C, dweight: g.data,
                                        precision: context.linearPrecision)
            }
            let store = toQ.store
            withExtendedLifetime(g) {
                for (j, l) in [toQ, toK, toV].enumerated() {
                    Vectorized.add(g.data + j * C * C, into: store.grads + l.weightOffset, count: C * C)
                    Vectorized.add(g.data + 3 * C * C + j * C, into: store.grads + l.biasOffset, count: C)
                }
            }
        }
        return norm.backward(dh, adding: dy)
    }
}
