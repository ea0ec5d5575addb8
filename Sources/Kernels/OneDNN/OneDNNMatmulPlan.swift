import CDNNL

/// One oneDNN matmul primitive for one product of a linear layer (weight W [n, k], row-major
/// as PyTorch holds it) on a piece of `rows` rows, with the layouts it reads and writes.
/// Activations are row-major, read and written in place through strides, except that in
/// bf16 they arrive as dense bf16 copies (`OneDNNMatmul`); outputs are fp32, or bf16 for a
/// forward product that asks for it (`bf16Output`). The
/// forward and input-gradient products take W in the layout and type the primitive prefers,
/// reordered from ours once per call (`weightsReorder`).
final class OneDNNMatmulPlan: @unchecked Sendable {
    enum Product: Hashable {
        /// y[rows, n] = x[rows, k] W^T + bias (the primitive adds the bias).
        case forward
        /// y[rows, n] += x[rows, k] W^T (y already holds bias + residual: a sum post-op adds).
        case forwardAccumulate
        /// dx[rows, k] = dy[rows, n] W.
        case inputGradient
        /// dW[n, k] += dy[rows, n]^T x[rows, k] (a sum post-op adds).
        case weightGradient
    }

    struct Key: Hashable {
        let product: Product
        let rows, k, n: Int
        let precision: ConvolutionPrecision
        /// Row strides of the activation read (x forward, dy backward) and of the output
        /// (y, dx; the weight gradient's is dense [n, k]); x's for the weight gradient.
        let ldIn, ldOut, ldX: Int
        /// `.forward` only: y written in bf16 (rounded from the fp32 sums plus bias).
        var bf16Output = false
    }

    let key: Key
    let primitive: OneDNN.Primitive
    /// As the primitive takes them: DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, and
    /// DNNL_ARG_BIAS ([1, n] fp32) in `.forward`.
    let src, weights, dst, bias: dnnl_memory_desc_t
    /// Forward and input gradient: our fp32 W [n, k] as this product reads it, and its
    /// reorder into `weights` (nil when the primitive takes ours as it is).
    let userWeights: dnnl_memory_desc_t
    let weightsReorder: OneDNN.Primitive?

    private static let cache = PrimitiveCache<Key, OneDNNMatmulPlan>()

    static func plan(_ key: Key) -> Result<OneDNNMatmulPlan, Error> {
        cache.value(key) { try OneDNNMatmulPlan(key) }
    }

    private init(_ key: Key) throws {
        guard let engine = OneDNN.engine?.handle else { throw OneDNN.Failure(call: "engine_create", status: dnnl_runtime_error) }
        self.key = key
        let (rows, k, n) = (key.rows, key.k, key.n)
        let type = key.precision == .bf16 ? dnnl_bf16 : dnnl_f32
        var asked: dnnl_memory_desc_t
        switch key.product {
        case .forward, .forwardAccumulate:
            src = try OneDNN.desc([rows, k], type, strides: [key.ldIn, 1])
            userWeights = try OneDNN.desc([k, n], dnnl_f32, strides: [1, k])  // W^T, read from W [n, k]
            asked = try OneDNN.desc([k, n], type, dnnl_format_tag_any)
            dst = try OneDNN.desc([rows, n], key.bf16Output ? dnnl_bf16 : dnnl_f32, strides: [key.ldOut, 1])
        case .inputGradient:
            src = try OneDNN.desc([rows, n], type, strides: [key.ldIn, 1])
            userWeights = try OneDNN.desc([n, k], dnnl_f32, strides: [k, 1])
            asked = try OneDNN.desc([n, k], type, dnnl_format_tag_any)
            dst = try OneDNN.desc([rows, k], dnnl_f32, strides: [key.ldOut, 1])
        case .weightGradient:
            src = try OneDNN.desc([n, rows], type, strides: [1, key.ldIn])  // dy^T
            asked = try OneDNN.desc([rows, k], type, strides: [key.ldX, 1])
            userWeights = asked
            dst = try OneDNN.desc([n, k], dnnl_f32, strides: [k, 1])
        }
        bias = try OneDNN.desc([1, n], dnnl_f32, dnnl_ab)
        let attr = try OneDNN.Attributes(accumulate: key.product == .forwardAccumulate || key.product == .weightGradient)
        var desc = dnnl_matmul_desc_t()
        var (s, d, b) = (src, dst, bias)
        try OneDNN.check(withUnsafePointer(to: &b) { bp in
            dnnl_matmul_desc_init(&desc, &s, &asked, key.product == .forward ? bp : nil, &d)
        }, "matmul_desc_init")
        OneDNN.useThreads(1)
        primitive = try OneDNN.Primitive("matmul \(key.product) \(key.precision) \(rows)x\(k)x\(n)") { pd in
            dnnl_primitive_desc_create(&pd, &desc, attr.handle, engine, nil)
        }
        weights = primitive.md(dnnl_query_weights_md)
        weightsReorder = key.product == .weightGradient || OneDNN.same(weights, userWeights)
            ? nil : try OneDNN.Primitive(reorderFrom: userWeights, to: weights)
    }

    /// The implementation oneDNN picked ("brg:avx512_core_bf16", ...), for benchmarks.
    var implementation: String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(primitive.pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success,
              let info else { return "?" }
        return String(cString: info)
    }
}

/// fp32 rows (`ld` apart) into a dense bf16 copy: the reorder that feeds the bf16 products.
final class OneDNNBF16Conversion: @unchecked Sendable {
    struct Key: Hashable { let rows, cols, ld: Int }
    let reorder: OneDNN.Primitive
    let from, to: dnnl_memory_desc_t

    private static let cache = PrimitiveCache<Key, OneDNNBF16Conversion>()

    static func conversion(rows: Int, cols: Int, ld: Int) -> Result<OneDNNBF16Conversion, Error> {
        cache.value(Key(rows: rows, cols: cols, ld: ld)) { try OneDNNBF16Conversion(rows: rows, cols: cols, ld: ld) }
    }

    private init(rows: Int, cols: Int, ld: Int) throws {
        from = try OneDNN.desc([rows, cols], dnnl_f32, strides: [ld, 1])
        to = try OneDNN.desc([rows, cols], dnnl_bf16, dnnl_ab)
        reorder = try OneDNN.Primitive(reorderFrom: from, to: to)
    }

    /// Converts `source` into `destination` (rows x cols bf16, 2 bytes each).
    func run(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer) {
        OneDNNConvolution.withScratchpad(reorder.scratchpadBytes) { sp in
            reorder.execute([.init(DNNL_ARG_FROM, from, source), .init(DNNL_ARG_TO, to, destination)], scratchpad: sp)
        }
    }
}
