/// The diffusers/PyTorch `Conv2d` module: parameters `NAME.weight` [out, in, k, k] and
/// `NAME.bias` [out], stored [k, k, in, out]; x [N, H, W, in] -> [N, Ho, Wo, out].
public final class Conv2DLayer {
    let store: ParameterStore
    let context: ForwardContext
    let cin, cout, k, stride, pad: Int
    let weightOffset, biasOffset: Int
    private var input: Tensor?

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

    func geometry(_ x: Tensor) -> ConvGeometry {
        precondition(x.shape.count == 4 && x.shape[3] == cin, "conv expects [N,H,W,\(cin)], got \(x.shape)")
        return ConvGeometry(n: x.shape[0], h: x.shape[1], w: x.shape[2], cin: cin, cout: cout,
                            k: k, stride: stride, pad: pad)
    }

    public func forward(_ x: Tensor) -> Tensor {
        forward(x, imageBias: nil, residual: nil)
    }

    /// conv(x) + bias (+ imageBias[n] [N, out] on every pixel of image n) (+ residual, y's shape),
    /// the extra terms written with the bias before the product is added.
    func forward(_ x: Tensor, imageBias: Tensor?, residual: Tensor?) -> Tensor {
        let g = geometry(x)
        let y = Tensor(uninitialized: [g.n, g.ho, g.wo, cout])
        if let imageBias { precondition(imageBias.count == g.n * cout, "image bias \(imageBias.shape) for \(y.shape)") }
        if let residual { precondition(residual.count == y.count, "residual \(residual.shape) for \(y.shape)") }
        context.timed("conv \(k)x\(k) forward") {
            context.convolutions.forward(g, x: x.data, weight: store.values + weightOffset, bias: store.values + biasOffset,
                                     imageBias: imageBias?.data, residual: residual?.data, y: y.data)
        }
        input = context.recordsForBackward ? x : nil
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

    private func takeRecordedInput() -> Tensor {
        guard let x = input else { preconditionFailure("conv backward without a recorded forward") }
        input = nil
        return x
    }

    private func backward(x: Tensor, dy: Tensor, dx: UnsafeMutablePointer<Float>?) {
        let g = geometry(x)
        precondition(dy.count == g.n * g.ho * g.wo * cout, "conv backward: dy \(dy.shape) for input \(x.shape)")
        context.timed("conv \(k)x\(k) backward") {
            context.convolutions.backward(g, x: x.data, weight: store.values + weightOffset, dy: dy.data, dx: dx,
                                          dweight: store.grads + weightOffset, dbias: store.grads + biasOffset)
        }
    }
}
