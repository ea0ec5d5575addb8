import CDNNL

/// One oneDNN convolution primitive for one batch slice shape and pass, with the reorders
/// around it: our weights ([k, k, Cin, Cout] fp32, oneDNN's "hwio") into the primitive's
/// preferred layout, and in bf16 the fp32 activations into bf16. Activations stay NHWC
/// (ours), so only weights are ever reordered.
final class OneDNNConvolutionPlan: @unchecked Sendable {
    enum Pass: Hashable { case forward, forwardAccumulate, backwardData, backwardWeights }

    struct Key: Hashable {
        let n, h, w, cin, cout, k, stride, pad: Int
        let pass: Pass
        let precision: ConvolutionPrecision
        /// OpenMP threads the primitive was built for (oneDNN splits its work at creation).
        let threads: Int

        init(_ g: ConvGeometry, _ pass: Pass, _ precision: ConvolutionPrecision, threads: Int) {
            n = g.n; h = g.h; w = g.w; cin = g.cin; cout = g.cout; k = g.k; stride = g.stride; pad = g.pad
            self.pass = pass; self.precision = precision; self.threads = threads
        }

        var geometry: ConvGeometry {
            ConvGeometry(n: n, h: h, w: w, cin: cin, cout: cout, k: k, stride: stride, pad: pad)
        }
    }

    let key: Key
    let conv: OneDNN.Primitive
    /// The forward primitive a backward one was derived from (oneDNN keeps a pointer to it).
    private let hint: OneDNNConvolutionPlan?
    /// fp32 NHWC x [n, h, w, cin] and y [n, ho, wo, cout] as we hold them, and as the
    /// primitive reads them (bf16 NHWC in bf16, else the same).
    let x, y, xConv, yConv, bias: dnnl_memory_desc_t
    /// Our weight layout, and the primitive's (diff) weights layout.
    let userWeights, weights: dnnl_memory_desc_t
    /// Forward and backward data: our weights into `weights`, nil when the layouts agree.
    /// Backward weights: the primitive's `weights` added into ours (always present).
    let weightsReorder: OneDNN.Primitive?
    /// bf16 only: x into `xConv` (passes that read x), y-shaped dy into `yConv` (passes that read dy).
    let xConvert, yConvert: OneDNN.Primitive?

    private static let cache = PrimitiveCache<Key, OneDNNConvolutionPlan>()

    static func plan(_ key: Key) -> Result<OneDNNConvolutionPlan, Error> {
        cache.value(key) { try OneDNNConvolutionPlan(key) }
    }

    private init(_ key: Key) throws {
        guard let engine = OneDNN.engine?.handle else { throw OneDNN.Failure(call: "engine_create", status: dnnl_runtime_error) }
        self.key = key
        let g = key.geometry
        let type = key.precision == .bf16 ? dnnl_bf16 : dnnl_f32
        x = try OneDNN.desc([g.n, g.cin, g.h, g.w], dnnl_f32, dnnl_nhwc)
        y = try OneDNN.desc([g.n, g.cout, g.ho, g.wo], dnnl_f32, dnnl_nhwc)
        xConv = try OneDNN.desc([g.n, g.cin, g.h, g.w], type, dnnl_nhwc)
        yConv = try OneDNN.desc([g.n, g.cout, g.ho, g.wo], type, dnnl_nhwc)
        bias = try OneDNN.desc([g.cout], dnnl_f32, dnnl_x)
        userWeights = try OneDNN.desc([g.cout, g.cin, g.k, g.k], dnnl_f32, dnnl_hwio)
        let anyWeights = try OneDNN.desc([g.cout, g.cin, g.k, g.k], key.pass == .backwardWeights ? dnnl_f32 : type,
                                         dnnl_format_tag_any)
        // padding_r so that oneDNN's output size formula gives our ho, wo exactly.
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let padL: [Int64] = [Int64(g.pad), Int64(g.pad)]
        let padR: [Int64] = [Int64((g.ho - 1) * g.stride + g.k - g.h - g.pad),
                             Int64((g.wo - 1) * g.stride + g.k - g.w - g.pad)]
        var desc = dnnl_convolution_desc_t()
        var (xs, ys, xc, yc, b, wa) = (x, y, xConv, yConv, bias, anyWeights)
        let attr = try OneDNN.Attributes(accumulate: key.pass == .forwardAccumulate)
        OneDNN.useThreads(key.threads)
        switch key.pass {
        case .forward, .forwardAccumulate:
            let withBias = key.pass == .forward
            try OneDNN.check(withUnsafePointer(to: &b) { bp in
                dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &xc, &wa,
                                                   withBias ? bp : nil, &ys, strides, padL, padR)
            }, "convolution_forward_desc_init")
            hint = nil
        case .backwardData:
            try OneDNN.check(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &xs, &wa, &yc,
                                                                     strides, padL, padR),
                             "convolution_backward_data_desc_init")
            hint = try Self.plan(Key(g, .forward, key.precision, threads: key.threads)).get()
        case .backwardWeights:
            // In bf16 the primitive would sum a bf16 copy of dy: the bias gradient is taken
            // from the fp32 dy instead (`OneDNNConvolution.backward`), so none is asked for here.
            let withBias = key.precision == .fp32
            try OneDNN.check(withUnsafeMutablePointer(to: &b) { bp in
                dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &xc, &wa, withBias ? bp : nil,
                                                            &yc, strides, padL, padR)
            }, "convolution_backward_weights_desc_init")
            hint = try Self.plan(Key(g, .forward, key.precision, threads: key.threads)).get()
        }
        let hintPD = hint?.conv.pd
        conv = try OneDNN.Primitive("convolution \(key.pass) \(key.precision) \(g)") { pd in
            dnnl_primitive_desc_create(&pd, &desc, attr.handle, engine, hintPD)
        }
        switch key.pass {
        case .forward, .forwardAccumulate, .backwardData:
            weights = conv.md(dnnl_query_weights_md)
            weightsReorder = OneDNN.same(weights, userWeights)
                ? nil : try OneDNN.Primitive(reorderFrom: userWeights, to: weights)
        case .backwardWeights:
            weights = conv.md(dnnl_query_diff_weights_md)
            weightsReorder = try OneDNN.Primitive(reorderFrom: weights, to: userWeights, accumulate: true)
        }
        let readsX = key.pass != .backwardData, readsDY = key.pass == .backwardData || key.pass == .backwardWeights
        let isBF16 = key.precision == .bf16
        xConvert = isBF16 && readsX ? try OneDNN.Primitive(reorderFrom: x, to: xConv) : nil
        yConvert = isBF16 && readsDY ? try OneDNN.Primitive(reorderFrom: y, to: yConv) : nil
    }

    /// True when two plans take their weights in the same layout (one reorder serves both).
    func sharesWeights(with other: OneDNNConvolutionPlan) -> Bool { OneDNN.same(weights, other.weights) }
}
