/// diffusers' `Attention` as the U-Net uses it on feature maps (group norm, q/k/v projections,
/// multi-head attention, output projection, residual; rescale_output_factor 1).
///
///   x: [N, H, W, C] -> y = x + to_out(attention(to_q(gn(x)), to_k(gn(x)), to_v(gn(x))))
/// Parameters NAME.group_norm, NAME.to_q, NAME.to_k, NAME.to_v, NAME.to_out.0.
public final class AttentionBlock {
    let context: ForwardContext
    let channels, heads, headDim: Int
    let norm: GroupNorm
    let toQ, toK, toV, toOut: Linear
    private var saved: (q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor)?

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

    public func forward(_ x: Tensor) -> Tensor {
        let n = x.shape[0], L = x.count / (n * channels)
        let h = norm.forward(x)
        let q = toQ.forward(h), k = toK.forward(h), v = toV.forward(h)
        let o = Tensor(uninitialized: x.shape)
        let lse = Tensor(uninitialized: [n, heads, L])
        ScaledDotProductAttention.forward(n: n, length: L, heads: heads, headDim: headDim,
                                          q: q.data, k: k.data, v: v.data, o: o.data, lse: lse.data)
        let y = toOut.forward(o)
        y.add(x)
        saved = context.recordsForBackward ? (q, k, v, o, lse) : nil
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let s = saved else { preconditionFailure("attention backward without a recorded forward") }
        saved = nil
        let n = dy.shape[0], L = dy.count / (n * channels)
        let dO = toOut.backward(dy)!
        let dq = Tensor(uninitialized: dy.shape), dk = Tensor(uninitialized: dy.shape), dv = Tensor(uninitialized: dy.shape)
        ScaledDotProductAttention.backward(n: n, length: L, heads: heads, headDim: headDim,
                                           q: s.q.data, k: s.k.data, v: s.v.data, o: s.o.data, lse: s.lse.data,
                                           dout: dO.data, dq: dq.data, dk: dk.data, dv: dv.data)
        let dh = toQ.backward(dq)!
        dh.add(toK.backward(dk)!)
        dh.add(toV.backward(dv)!)
        let dx = norm.backward(dh)
        dx.add(dy)
        return dx
    }
}
