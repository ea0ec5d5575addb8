/// The diffusers/PyTorch `Conv2d` module: parameters `NAME.weight` [out, in, k, k] and
/// `NAME.bias` [out], stored [k, k, in, out]; x [N, H, W, in] -> [N, Ho, Wo, out].
public final class Conv2DLayer {
    let store: ParameterStore
    let context: ForwardContext
    let cin, cout, k, stride, pad: Int
    let weightOffset, biasOffset: Int
    private var input: Tensor?
    /// A bf16 forward's input, kept or recomputed for backward (`forward(bf16:recompute:)`).
    private var bf16Input: (() -> BF16Tensor)?

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
        input = context.recordsForBackward ? x : nil
        bf16Input = nil
        return y
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
    /// backward (half of an fp32 copy), or with `recomputesNormOutputs` keeps none of: its
    /// backward has the norm recompute it.
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
            context.convolutions.forward(g, bf16: x.data, weight: store.values + weightOffset, bias: bias,
                                         imageBias: imageBias?.data, residual: residual?.data, y: y)
        }
        input = nil
        bf16Input = context.recordsForBackward ? recompute : nil
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
        defer { input = nil; bf16Input = nil }
        if let input { return .fp32(input) }
        if let bf16Input { return .bf16(bf16Input()) }
        preconditionFailure("conv backward without a recorded forward")
    }

    private func backward(x: HeldActivation, dy: Tensor, dx: UnsafeMutablePointer<Float>?) {
        let g = geometry(x.shape)
        precondition(dy.count == g.n * g.ho * g.wo * cout, "conv backward: dy \(dy.shape) for input \(x.shape)")
        let (weight, dweight, dbias) = (store.values + weightOffset, store.grads + weightOffset, store.grads + biasOffset)
        context.timed("conv \(k)x\(k) backward") {
            switch x {
            case .fp32(let x):
                context.convolutions.backward(g, x: x.data, weight: weight, dy: dy.data, dx: dx, dweight: dweight, dbias: dbias)
            case .bf16(let x):
                context.convolutions.backward(g, bf16: x.data, weight: weight, dy: dy.data, dx: dx, dweight: dweight, dbias: dbias)
            }
        }
    }
}
