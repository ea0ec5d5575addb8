/// The diffusers/PyTorch `Conv2d` module: parameters `NAME.weight` [out, in, k, k] and
/// `NAME.bias` [out], stored [k, k, in, out]; x [N, H, W, in] -> [N, Ho, Wo, out].
public final class Conv2DLayer {
    let store: ParameterStore
    let context: ForwardContext
    let cin, cout, k, stride, pad: Int
    let weightOffset, biasOffset: Int
    /// What backward reads: the forward's input, kept, or recomputed when backward asks
    /// (a group norm's bf16 output, an upsampled tensor).
    private var recorded: (() -> HeldActivation)?

    public init(_ store: ParameterStore, _ context: ForwardContext, name: String,
                cin: Int, cout: Int, k: Int, stride: Int = 1) {
        self.store = store; self.context = context
        self.cin = cin; self.cout = cout; self.k = k; self.stride = stride; self.pad = (k - 1) / 2
        weightOffset = store.register(name + ".weight", shape: [cout, cin, k, k], layout: .convHWIO)
        biasOffset = store.register(name + ".bias", shape: [cout])
    }

    func initialize(_ rng: inout RandomStream) {
        initUniform(store.values + weightOffset, count: k * k * cin * cout, fanIn: cin * k * k, rng: &rng)
        initUniform(store.values + biasOffset, count: cout, fanIn: cin * k * k, rng: &rng)
    }

    func geometry(_ x: Tensor) -> ConvGeometry { geometry(x.shape) }

    func geometry(_ shape: [Int]) -> ConvGeometry {
        precondition(shape.count == 4 && shape[3] == cin, "conv expects [N,H,W,\(cin)], got \(shape)")
        return ConvGeometry(n: shape[0], h: shape[1], w: shape[2], cin: cin, cout: cout,
                            k: k, stride: stride, pad: pad)
    }

    public func forward(_ x: Tensor) -> Tensor {
        forward(x, imageBias: nil, residual: nil)
    }

    /// conv(x) + bias (+ imageBias[n] [N, out] on every pixel of image n) (+ residual, y's shape),
    /// the extra terms written with the bias before the product is added.
    func forward(_ x: Tensor, imageBias: Tensor?, residual: Tensor?) -> Tensor {
        let y = output(geometry(x), imageBias: imageBias, residual: residual) { g, bias, y in
            context.convolutions.forward(g, x: x.data, weight: store.values + weightOffset, bias: bias,
                                         imageBias: imageBias?.data, residual: residual?.data, y: y)
        }
        recordInput(context.recordsForBackward ? x : nil)
        return y
    }

    /// conv(upsample2x(x)), diffusers' `Upsample2D`: keeps x for backward, which upsamples it
    /// again, instead of the upsampled tensor at 4x its size. Where the convolutions run bf16,
    /// x is rounded first (a quarter of the values to round) and kept in bf16.
    func forward(upsampling x: Tensor) -> Tensor {
        if context.bf16Activations {
            let xb = BF16Tensor(rounding: x)
            return forward(bf16: Upsample2x.forward(xb), recompute: { [xb] in Upsample2x.forward(xb) }, imageBias: nil, residual: nil)
        }
        let y = forward(Upsample2x.forward(x))
        recorded = context.recordsForBackward ? { [x] in .fp32(Upsample2x.forward(x)) } : nil
        return y
    }

    /// forward(x) for an input nothing else needs in fp32 after it (a downsampler's): where
    /// the convolutions run bf16, x is rounded once, read as it is and kept in bf16, half the
    /// bytes of an fp32 copy (the convolution would round it so anyway).
    func forward(roundingInput x: Tensor) -> Tensor {
        guard context.bf16Activations else { return forward(x) }
        let xb = BF16Tensor(rounding: x)
        return forward(bf16: xb, recompute: { [xb] in xb }, imageBias: nil, residual: nil)
    }

    /// Records `x` as the input backward reads (nil: none). Also for a caller that keeps the
    /// input more cheaply between forward and backward: `ResnetBlock` drops its concatenated
    /// input after forward and records it again, rebuilt from its two parts, before backward.
    func recordInput(_ x: Tensor?) {
        recorded = x.map { x in { .fp32(x) } }
    }

    /// Has backward read its input from `input` instead of a kept copy: a 1x1 shortcut's
    /// input rebuilt from the group norm that reads the same input (`GroupNorm.reconstructedInputBF16`).
    func recordInput(from input: @escaping () -> BF16Tensor) {
        recorded = { .bf16(input()) }
    }

    /// A forward's output: `product(geometry, bias, y)` writes it, after the extra terms' shapes are checked.
    private func output(_ g: ConvGeometry, imageBias: Tensor?, residual: Tensor?,
                        _ product: (ConvGeometry, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let y = Tensor(uninitialized: [g.n, g.ho, g.wo, cout])
        if let imageBias { precondition(imageBias.count == g.n * cout, "image bias \(imageBias.shape) for \(y.shape)") }
        if let residual { precondition(residual.count == y.count, "residual \(residual.shape) for \(y.shape)") }
        context.timed("conv \(k)x\(k) forward") { product(g, store.values + biasOffset, y.data) }
        return y
    }

    /// conv(norm(x)). Where the convolutions run bf16 (`ForwardContext.bf16Activations`) the
    /// norm writes its output in bf16, which the convolution reads as it is and keeps for
    /// backward (half of an fp32 copy), or with `recomputesNormOutputs` (the default) keeps
    /// none of: its backward has the norm recompute it.
    func forward(normalized x: Tensor, by norm: GroupNorm, imageBias: Tensor? = nil, residual: Tensor? = nil) -> Tensor {
        guard context.bf16Activations else { return forward(norm.forward(x), imageBias: imageBias, residual: residual) }
        let y = norm.forwardBF16(x)
        return forward(bf16: y, recompute: context.recomputesNormOutputs ? { [norm] in norm.recomputedBF16() } : { [y] in y },
                       imageBias: imageBias, residual: residual)
    }

    /// As `forward(_:imageBias:residual:)` on an input already in bf16 (a group norm's output,
    /// when the convolutions run in bf16). Backward calls `recompute` for the same input
    /// (the kept tensor, or `GroupNorm.recomputedBF16`).
    func forward(bf16 x: BF16Tensor, recompute: @escaping () -> BF16Tensor, imageBias: Tensor?, residual: Tensor?) -> Tensor {
        let y = output(geometry(x.shape), imageBias: imageBias, residual: residual) { g, bias, y in
            context.convolutions.forward(g, input: .bf16(x.data), weight: store.values + weightOffset, bias: bias,
                                         imageBias: imageBias?.data, residual: residual?.data, y: y)
        }
        recorded = context.recordsForBackward ? { .bf16(recompute()) } : nil
        return y
    }

    /// Accumulates the parameter gradients and returns dx.
    public func backward(_ dy: Tensor) -> Tensor {
        let x = takeRecordedInput()
        let dx = Tensor(uninitialized: x.shape)
        backward(x: x, dy: dy, dx: dx.data)
        return dx
    }

    /// Accumulates the parameter gradients only: for a first layer, whose input needs none.
    public func backwardParametersOnly(_ dy: Tensor) {
        backward(x: takeRecordedInput(), dy: dy, dx: nil)
    }

    private func takeRecordedInput() -> HeldActivation {
        guard let recorded else { preconditionFailure("conv backward without a recorded forward") }
        self.recorded = nil
        return recorded()
    }

    private func backward(x: HeldActivation, dy: Tensor, dx: UnsafeMutablePointer<Float>?) {
        let g = geometry(x.shape)
        precondition(dy.count == g.n * g.ho * g.wo * cout, "conv backward: dy \(dy.shape) for input \(x.shape)")
        let (weight, dweight, dbias) = (store.values + weightOffset, store.grads + weightOffset, store.grads + biasOffset)
        context.timed("conv \(k)x\(k) backward") {
            withExtendedLifetime(x) {
                context.convolutions.backward(g, input: x.input, weight: weight, dy: dy.data, dx: dx, dweight: dweight, dbias: dbias)
            }
        }
    }
}
