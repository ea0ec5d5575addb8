import CDNNL

/// One oneDNN convolution primitive for one batch piece shape and pass, with the reorders
/// around it: our weights ([k, k, Cin, Cout] fp32, oneDNN's "hwio") into the primitive's
/// preferred layout; in bf16 the fp32 activations into bf16; and with Winograd the NHWC
/// activations into the primitive's blocked layout and its output back. Activations
/// stay NHWC (ours) between calls.
final class OneDNNConvolutionPlan: @unchecked Sendable {
    enum Pass: Hashable { case forward, forwardAccumulate, backwardData, backwardWeights }

    struct Key: Hashable {
        let n, h, w, cin, cout, k, stride, pad: Int
        let pass: Pass
        let precision: ConvolutionPrecision
        let algorithm: ConvolutionAlgorithm
        /// OpenMP threads the primitive was built for (oneDNN splits its work at creation).
        let threads: Int

        init(_ g: ConvGeometry, _ pass: Pass, _ precision: ConvolutionPrecision, _ algorithm: ConvolutionAlgorithm,
             threads: Int) {
            n = g.n; h = g.h; w = g.w; cin = g.cin; cout = g.cout; k = g.k; stride = g.stride; pad = g.pad
            self.pass = pass; self.precision = precision; self.algorithm = algorithm; self.threads = threads
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
    /// primitive reads or writes them (bf16 NHWC in bf16, blocked with Winograd, else the same).
    let x, y, xConv, yConv, bias: dnnl_memory_desc_t
    /// Our weight layout, and the primitive's (diff) weights layout.
    let userWeights, weights: dnnl_memory_desc_t
    /// Forward and backward data: our weights into `weights`, nil when the layouts agree.
    /// Backward weights: the primitive's `weights` added into ours (always present).
    let weightsReorder: OneDNN.Primitive?
    /// x into `xConv` (passes that read x), y-shaped dy into `yConv` (passes that read dy);
    /// nil where the layouts agree.
    let xConvert, yConvert: OneDNN.Primitive?
    /// The primitive's output (`yConv` forward, `xConv` backward data) into ours, added to
    /// what y holds in `.forwardAccumulate`; nil where the primitive writes ours directly.
    let output: OneDNN.Primitive?

    private static let cache = PrimitiveCache<Key, OneDNNConvolutionPlan>()

    static func plan(_ key: Key) -> Result<OneDNNConvolutionPlan, Error> {
        cache.value(key) { try OneDNNConvolutionPlan(key) }
    }

    private init(_ key: Key) throws {
        guard let engine = OneDNN.engine?.handle else { throw OneDNN.Failure(call: "engine_create", status: dnnl_runtime_error) }
        self.key = key
        let g = key.geometry
        let type = key.precision == .bf16 ? dnnl_bf16 : dnnl_f32
        let winograd = key.algorithm == .winograd
        x = try OneDNN.desc([g.n, g.cin, g.h, g.w], dnnl_f32, dnnl_nhwc)
        y = try OneDNN.desc([g.n, g.cout, g.ho, g.wo], dnnl_f32, dnnl_nhwc)
        bias = try OneDNN.desc([g.cout], dnnl_f32, dnnl_x)
        userWeights = try OneDNN.desc([g.cout, g.cin, g.k, g.k], dnnl_f32, dnnl_hwio)
        let anyWeights = try OneDNN.desc([g.cout, g.cin, g.k, g.k], key.pass == .backwardWeights ? dnnl_f32 : type,
                                         dnnl_format_tag_any)
        // The activations as the primitive is asked to take them: Winograd picks its own
        // (blocked) layout; direct ones read NHWC at the arithmetic's type and write fp32.
        let writesX = key.pass == .backwardData, writesY = key.pass == .forward || key.pass == .forwardAccumulate
        let xAsked = try OneDNN.desc([g.n, g.cin, g.h, g.w], writesX ? dnnl_f32 : type, winograd ? dnnl_format_tag_any : dnnl_nhwc)
        let yAsked = try OneDNN.desc([g.n, g.cout, g.ho, g.wo], writesY ? dnnl_f32 : type, winograd ? dnnl_format_tag_any : dnnl_nhwc)
        // padding_r so that oneDNN's output size formula gives our ho, wo exactly.
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let padL: [Int64] = [Int64(g.pad), Int64(g.pad)]
        let padR: [Int64] = [Int64((g.ho - 1) * g.stride + g.k - g.h - g.pad),
                             Int64((g.wo - 1) * g.stride + g.k - g.w - g.pad)]
        let algorithm = winograd ? dnnl_convolution_winograd : dnnl_convolution_direct
        var desc = dnnl_convolution_desc_t()
        var (xa, ya, b, wa) = (xAsked, yAsked, bias, anyWeights)
        // The sum post-op needs y in the primitive's layout: with Winograd the output
        // reorder adds instead.
        let attr = try OneDNN.Attributes(accumulate: key.pass == .forwardAccumulate && !winograd)
        OneDNN.useThreads(key.threads)
        switch key.pass {
        case .forward, .forwardAccumulate:
            let withBias = key.pass == .forward
            try OneDNN.check(withUnsafePointer(to: &b) { bp in
                dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, algorithm, &xa, &wa,
                                                   withBias ? bp : nil, &ya, strides, padL, padR)
            }, "convolution_forward_desc_init")
            hint = nil
        case .backwardData:
            try OneDNN.check(dnnl_convolution_backward_data_desc_init(&desc, algorithm, &xa, &wa, &ya,
                                                                     strides, padL, padR),
                             "convolution_backward_data_desc_init")
            hint = try Self.plan(Key(g, .forward, key.precision, key.algorithm, threads: key.threads)).get()
        case .backwardWeights:
            // In bf16 the primitive would sum a bf16 copy of dy: the bias gradient is taken
            // from the fp32 dy instead (`OneDNNConvolution.backward`), so none is asked for here.
            let withBias = key.precision == .fp32
            try OneDNN.check(withUnsafeMutablePointer(to: &b) { bp in
                dnnl_convolution_backward_weights_desc_init(&desc, algorithm, &xa, &wa, withBias ? bp : nil,
                                                            &ya, strides, padL, padR)
            }, "convolution_backward_weights_desc_init")
            hint = try Self.plan(Key(g, .forward, key.precision, key.algorithm, threads: key.threads)).get()
        }
        let hintPD = hint?.conv.pd
        conv = try OneDNN.Primitive("convolution \(key.pass) \(key.precision) \(key.algorithm) \(g)") { pd in
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
        xConv = conv.md(writesX ? dnnl_query_diff_src_md : dnnl_query_src_md)
        yConv = conv.md(writesY ? dnnl_query_dst_md : dnnl_query_diff_dst_md)
        let (x, y) = (x, y)
        func reorder(_ from: dnnl_memory_desc_t, _ to: dnnl_memory_desc_t, accumulate: Bool = false) throws -> OneDNN.Primitive? {
            OneDNN.same(from, to) ? nil : try OneDNN.Primitive(reorderFrom: from, to: to, accumulate: accumulate)
        }
        xConvert = writesX ? nil : try reorder(x, xConv)
        yConvert = writesY ? nil : try reorder(y, yConv)
        output = writesX ? try reorder(xConv, x)
            : writesY ? try reorder(yConv, y, accumulate: key.pass == .forwardAccumulate) : nil
    }

    /// True when two plans take their weights in the same layout (one reorder serves both).
    func sharesWeights(with other: OneDNNConvolutionPlan) -> Bool { OneDNN.same(weights, other.weights) }
}
