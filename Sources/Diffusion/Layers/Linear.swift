/// The PyTorch `Linear` module: weight [out, in] (same layout as PyTorch), bias [out].
///   x: [M, in] (any leading shape, last dim `in`) -> y: [M, out]
///   forward  y = x W^T + b
///   backward dx = dy W,  dW += dy^T x,  db += colsum(dy)
/// The products run on `LinearProducts`: in bf16 through oneDNN where the model's
/// convolutions run bf16 (`ForwardContext.linearPrecision`), else fp32.
public final class Linear {
    let store: ParameterStore
    let context: ForwardContext
    let inFeatures, outFeatures: Int
    let weightOffset, biasOffset: Int
    /// The forward's input, fp32 or bf16 (`forward(bf16:residual:)`), kept for backward.
    private var input: HeldActivation?

    public init(_ store: ParameterStore, _ context: ForwardContext, name: String, in inFeatures: Int, out outFeatures: Int) {
        self.store = store; self.context = context
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weightOffset = store.register(name + ".weight", shape: [outFeatures, inFeatures])
        biasOffset = store.register(name + ".bias", shape: [outFeatures])
    }

    func initialize(_ rng: inout RandomStream) {
        initUniform(store.values + weightOffset, count: inFeatures * outFeatures, fanIn: inFeatures, rng: &rng)
        initUniform(store.values + biasOffset, count: outFeatures, fanIn: inFeatures, rng: &rng)
    }

    var weight: UnsafeMutablePointer<Float> { store.values + weightOffset }
    var bias: UnsafeMutablePointer<Float> { store.values + biasOffset }

    public func forward(_ x: Tensor) -> Tensor {
        forward(x, residual: nil)
    }

    /// y = x W^T + b (+ residual, same shape as y).
    func forward(_ x: Tensor, residual: Tensor?) -> Tensor {
        let y = output(.fp32(x.data), shape: x.shape, residual: residual)
        input = context.recordsForBackward ? .fp32(x) : nil
        return y
    }

    /// `forward(_:residual:)` on an input held in bf16 (for a bf16 run's products, which read
    /// it as it is): y = x W^T + b (+ residual), fp32.
    func forward(bf16 x: BF16Tensor, residual: Tensor?) -> Tensor {
        let y = output(.bf16(x.data), shape: x.shape, residual: residual)
        input = context.recordsForBackward ? .bf16(x) : nil
        return y
    }

    private func output(_ x: ActivationInput, shape: [Int], residual: Tensor?) -> Tensor {
        precondition(shape.last == inFeatures, "linear expects last dim \(inFeatures), got \(shape)")
        let m = shape.reduce(1, *) / inFeatures
        let y = Tensor(uninitialized: Array(shape.dropLast()) + [outFeatures])
        context.timed("linear forward") {
            Linear.apply(m: m, in: inFeatures, out: outFeatures, x: x, ldx: inFeatures, weight: weight, bias: bias,
                         residual: residual?.data, y: y.data, ldy: outFeatures, precision: context.linearPrecision)
        }
        return y
    }

    /// y[m, out] (rows ldy apart) = x[m, in] W^T + bias (+ residual [m, out]).
    static func apply(m: Int, in k: Int, out n: Int, x: ActivationInput, ldx: Int,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                      y: UnsafeMutablePointer<Float>, ldy: Int, precision: ConvolutionPrecision) {
        LinearProducts.forward(m: m, k: k, n: n, x: x, ldx: ldx, weight: weight, bias: bias, residual: residual,
                               y: y, ldy: ldy, precision: precision)
    }

    /// Accumulates the parameter gradients and returns dx.
    public func backward(_ dy: Tensor) -> Tensor {
        let x = takeRecordedInput()
        return context.timed("linear backward") {
            let dx = Tensor(uninitialized: x.shape)
            accumulateGradients(x: x, dy: dy, dx: dx)
            return dx
        }
    }

    /// Accumulates the parameter gradients only: for a first layer, whose input needs none.
    public func backwardParametersOnly(_ dy: Tensor) {
        let x = takeRecordedInput()
        context.timed("linear backward") { accumulateGradients(x: x, dy: dy, dx: nil) }
    }

    private func takeRecordedInput() -> HeldActivation {
        guard let x = input else { preconditionFailure("linear backward without a recorded forward") }
        input = nil
        return x
    }

    ///   dbias += sum over rows of dy (from the fp32 dy in every precision);  dW += dy^T x;  dx = dy W
    private func accumulateGradients(x: HeldActivation, dy: Tensor, dx: Tensor?) {
        let m = x.shape.reduce(1, *) / inFeatures
        precondition(dy.count == m * outFeatures, "linear backward: dy \(dy.shape) for input \(x.shape)")
        GEMM.accumulateColumnSums(rows: m, cols: outFeatures, x: dy.data, into: store.grads + biasOffset)
        withExtendedLifetime(x) {
            LinearProducts.backward(m: m, k: inFeatures, n: outFeatures, x: x.input, ldx: inFeatures, weight: weight,
                                    dy: dy.data, lddy: outFeatures, dx: dx?.data, lddx: inFeatures,
                                    dweight: store.grads + weightOffset, precision: context.linearPrecision)
        }
    }
}
