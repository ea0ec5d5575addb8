/// The PyTorch `Linear` module: weight [out, in] (same layout as PyTorch), bias [out].
///   x: [M, in] (any leading shape, last dim `in`) -> y: [M, out]
///   forward  y = x W^T + b
///   backward dx = dy W,  dW += dy^T x,  db += colsum(dy)
public final class Linear {
    let store: ParameterStore
    let context: ForwardContext
    let inFeatures, outFeatures: Int
    let weightOffset, biasOffset: Int
    private var input: Tensor?

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

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == inFeatures, "linear expects last dim \(inFeatures), got \(x.shape)")
        let m = x.count / inFeatures
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
        GEMM.rows(m: m, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
                  b: store.values + weightOffset, ldb: inFeatures, transB: true, c: y.data, ldc: outFeatures)
        let b = store.values + biasOffset, out = outFeatures
        Parallel.forRanges(m, minChunk: 256) { r in
            for row in r { let p = y.data + row * out; for j in 0..<out { p[j] += b[j] } }
        }
        input = context.recordsForBackward ? x : nil
        return y
    }

    public func backward(_ dy: Tensor, inputGradient: Bool = true) -> Tensor? {
        guard let x = input else { preconditionFailure("linear backward without a recorded forward") }
        input = nil
        let m = x.count / inFeatures
        GEMM.accumulateColumnSums(rows: m, cols: outFeatures, x: dy.data, into: store.grads + biasOffset)
        GEMM.accumulateATB(m: m, k: outFeatures, n: inFeatures, a: dy.data, lda: outFeatures,
                           b: x.data, ldb: inFeatures, c: store.grads + weightOffset)
        guard inputGradient else { return nil }
        let dx = Tensor(uninitialized: x.shape)
        GEMM.rows(m: m, n: inFeatures, k: outFeatures, a: dy.data, lda: outFeatures,
                  b: store.values + weightOffset, ldb: inFeatures, c: dx.data, ldc: inFeatures)
        return dx
    }
}
