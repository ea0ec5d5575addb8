import CDNNL
import Foundation

/// `Conv2D`'s forward and backward (same arguments, same results) through oneDNN.
///
/// Threads: the batch is cut into one slice per `Parallel` worker and each worker runs a
/// single-threaded primitive on its slice, so oneDNN uses exactly our thread count and
/// no OpenMP team is left spinning next to our own workers after a call. Weight gradients
/// come out per slice and are summed. Each function returns false, before touching any
/// output, when oneDNN has no primitive for the shape (the caller then runs `Conv2D`).
package enum OneDNNConvolution {
    /// The batch slices: as many as workers, sizes differing by at most one.
    package static func slices(_ n: Int) -> [Range<Int>] {
        let parts = Parallel.workerCount(n)
        let base = n / parts, extra = n % parts
        var out: [Range<Int>] = [], start = 0
        for p in 0..<parts {
            let size = base + (p < extra ? 1 : 0)
            out.append(start..<(start + size))
            start += size
        }
        return out
    }

    /// The plan of each slice (slices of one size share one), or nil after reporting why
    /// oneDNN cannot run this convolution.
    static func plans(_ g: ConvGeometry, _ slices: [Range<Int>], _ pass: OneDNNConvolutionPlan.Pass,
                      _ precision: ConvolutionPrecision) -> [OneDNNConvolutionPlan]? {
        var bySize: [Int: OneDNNConvolutionPlan] = [:]
        var out: [OneDNNConvolutionPlan] = []
        for s in slices {
            if let p = bySize[s.count] { out.append(p); continue }
            let sg = ConvGeometry(n: s.count, h: g.h, w: g.w, cin: g.cin, cout: g.cout, k: g.k, stride: g.stride, pad: g.pad)
            switch OneDNNConvolutionPlan.plan(.init(sg, pass, precision, threads: 1)) {
            case .success(let p): bySize[s.count] = p; out.append(p)
            case .failure(let error): reportOnce(g, pass, precision, error); return nil
            }
        }
        return out
    }

    private static let reported = PrimitiveCache<String, Void>()
    private static func reportOnce(_ g: ConvGeometry, _ pass: OneDNNConvolutionPlan.Pass,
                                   _ precision: ConvolutionPrecision, _ error: Error) {
        let what = "\(pass) \(precision) k\(g.k) s\(g.stride) \(g.cin)->\(g.cout) \(g.h)x\(g.w)"
        _ = reported.value(what) {
            // Not FileHandle.write(_: Data): it traps when stderr cannot be written.
            try? FileHandle.standardError.write(contentsOf: Data("oneDNN: no convolution for \(what) (\(error)); using the Swift kernels\n".utf8))
        }
    }

    /// Our weights in each plan's layout: one reorder per distinct layout, or our own buffer
    /// when a plan takes ours as they are. `release()` frees the copies.
    struct PreparedWeights {
        private(set) var pointers: [UnsafeRawPointer] = []
        private var owned: [UnsafeMutableRawPointer] = []

        init(_ plans: [OneDNNConvolutionPlan], _ weight: UnsafePointer<Float>) {
            var done: [(OneDNNConvolutionPlan, UnsafeRawPointer)] = []
            for plan in plans {
                if let hit = done.first(where: { $0.0.sharesWeights(with: plan) }) { pointers.append(hit.1); continue }
                var p = UnsafeRawPointer(weight)
                if let reorder = plan.weightsReorder {
                    let buffer = UnsafeMutableRawPointer.allocate(byteCount: OneDNN.bytes(plan.weights), alignment: 64)
                    owned.append(buffer)
                    OneDNN.useThreads(1)
                    withScratchpad(reorder.scratchpadBytes) { sp in
                        reorder.execute([.init(DNNL_ARG_FROM, plan.userWeights, weight), .init(DNNL_ARG_TO, plan.weights, buffer)],
                                        scratchpad: sp)
                    }
                    p = UnsafeRawPointer(buffer)
                }
                done.append((plan, p))
                pointers.append(p)
            }
        }

        func release() { for b in owned { b.deallocate() } }
    }

    static func withScratchpad(_ bytes: Int, _ body: (UnsafeMutableRawPointer?) -> Void) {
        guard bytes > 0 else { body(nil); return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        body(buffer)
    }

    /// `source` (fp32, `convert`'s input layout) converted to bf16, for the duration of `body`;
    /// `source` itself when there is no conversion (fp32).
    static func converted(_ convert: OneDNN.Primitive?, from: dnnl_memory_desc_t, to: dnnl_memory_desc_t,
                          _ source: UnsafeRawPointer, _ body: (UnsafeRawPointer) -> Void) {
        guard let convert else { body(source); return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: OneDNN.bytes(to), alignment: 64)
        defer { buffer.deallocate() }
        withScratchpad(convert.scratchpadBytes) { sp in
            convert.execute([.init(DNNL_ARG_FROM, from, source), .init(DNNL_ARG_TO, to, buffer)], scratchpad: sp)
        }
        body(UnsafeRawPointer(buffer))
    }

    /// Only the forward pass's weight reorder, for benchmarks (it is part of every `forward`).
    package static func reorderWeights(_ g: ConvGeometry, precision: ConvolutionPrecision, weight: UnsafePointer<Float>) {
        guard let plans = plans(g, slices(g.n), .forward, precision) else { return }
        PreparedWeights(plans, weight).release()
    }

    /// y = conv(x, weight) + bias (+ imageBias[n] on every pixel of image n, + residual),
    /// as `Conv2D.forward`. With the extra terms y is first set to bias + terms, then the
    /// convolution is added by a sum post-op.
    static func forward(_ g: ConvGeometry, precision: ConvolutionPrecision, x: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, imageBias: UnsafePointer<Float>?,
                        residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) -> Bool {
        let parts = slices(g.n)
        let accumulate = imageBias != nil || residual != nil || bias == nil
        guard let plans = plans(g, parts, accumulate ? .forwardAccumulate : .forward, precision) else { return false }
        let weights = PreparedWeights(plans, weight)
        defer { weights.release() }
        let (pixelsIn, pixelsOut) = (g.h * g.w * g.cin, g.ho * g.wo * g.cout)
        if accumulate {
            let pixels = g.ho * g.wo, cout = g.cout
            Parallel.forRanges(g.outRows, minChunk: 256) { rows in
                Vectorized.initRows(y, n: cout, rows: rows, bias: bias,
                                    rowBias: { r in imageBias.map { $0 + (r / pixels) * cout } }, residual: residual)
            }
        }
        Parallel.forEach(parts.count) { i in
            let (plan, s) = (plans[i], parts[i])
            OneDNN.useThreads(1)
            converted(plan.xConvert, from: plan.x, to: plan.xConv, x + s.lowerBound * pixelsIn) { xs in
                var args: [OneDNN.Argument] = [
                    .init(DNNL_ARG_SRC, plan.xConv, xs), .init(DNNL_ARG_WEIGHTS, plan.weights, weights.pointers[i]),
                    .init(DNNL_ARG_DST, plan.y, y + s.lowerBound * pixelsOut),
                ]
                if !accumulate, let bias { args.append(.init(DNNL_ARG_BIAS, plan.bias, bias)) }
                withScratchpad(plan.conv.scratchpadBytes) { plan.conv.execute(args, scratchpad: $0) }
            }
        }
        return true
    }

    /// As `Conv2D.backward`: dweight and dbias accumulate (+=), dx (when given) is overwritten.
    static func backward(_ g: ConvGeometry, precision: ConvolutionPrecision, x: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) -> Bool {
        let parts = slices(g.n)
        guard let weightPlans = plans(g, parts, .backwardWeights, precision) else { return false }
        var dataPlans: [OneDNNConvolutionPlan] = []
        if dx != nil {
            guard let p = plans(g, parts, .backwardData, precision) else { return false }
            dataPlans = p
        }
        let weights = PreparedWeights(dataPlans, weight)
        defer { weights.release() }
        // One fp32 weight gradient (the primitive's layout) and, in fp32, bias gradient per slice.
        let gradBytes = weightPlans.map { OneDNN.bytes($0.weights) }
        let partials = gradBytes.map { UnsafeMutableRawPointer.allocate(byteCount: $0, alignment: 64) }
        let primitiveSumsBias = precision == .fp32
        let biasPartials = UnsafeMutablePointer<Float>.allocate(capacity: primitiveSumsBias ? parts.count * g.cout : 0)
        defer { partials.forEach { $0.deallocate() }; biasPartials.deallocate() }
        let (pixelsIn, pixelsOut) = (g.h * g.w * g.cin, g.ho * g.wo * g.cout)
        Parallel.forEach(parts.count) { i in
            let (plan, s) = (weightPlans[i], parts[i])
            OneDNN.useThreads(1)
            let xs = x + s.lowerBound * pixelsIn, dys = dy + s.lowerBound * pixelsOut
            converted(plan.yConvert, from: plan.y, to: plan.yConv, dys) { dyc in
                converted(plan.xConvert, from: plan.x, to: plan.xConv, xs) { xc in
                    withScratchpad(plan.conv.scratchpadBytes) {
                        var args: [OneDNN.Argument] = [.init(DNNL_ARG_SRC, plan.xConv, xc), .init(DNNL_ARG_DIFF_DST, plan.yConv, dyc),
                                                       .init(DNNL_ARG_DIFF_WEIGHTS, plan.weights, partials[i])]
                        if primitiveSumsBias { args.append(.init(DNNL_ARG_DIFF_BIAS, plan.bias, biasPartials + i * g.cout)) }
                        plan.conv.execute(args, scratchpad: $0)
                    }
                }
                guard let dx else { return }
                let data = dataPlans[i]
                withScratchpad(data.conv.scratchpadBytes) {
                    data.conv.execute([.init(DNNL_ARG_DIFF_DST, data.yConv, dyc),
                                       .init(DNNL_ARG_WEIGHTS, data.weights, weights.pointers[i]),
                                       .init(DNNL_ARG_DIFF_SRC, data.x, dx + s.lowerBound * pixelsIn)], scratchpad: $0)
                }
            }
        }
        // Slices of one size share a layout: sum those partials first, then one reorder adds
        // each distinct partial into our weight gradient.
        var pending = Array(parts.indices)
        while let first = pending.first {
            let plan = weightPlans[first]
            let group = pending.filter { weightPlans[$0].sharesWeights(with: plan) }
            for j in group.dropFirst() {
                Vectorized.addInPlace(partials[first].assumingMemoryBound(to: Float.self),
                                      partials[j].assumingMemoryBound(to: Float.self), count: gradBytes[first] / 4)
            }
            pending.removeAll { group.contains($0) }
            let reorder = plan.weightsReorder!
            OneDNN.useThreads(1)
            withScratchpad(reorder.scratchpadBytes) {
                reorder.execute([.init(DNNL_ARG_FROM, plan.weights, partials[first]), .init(DNNL_ARG_TO, plan.userWeights, dweight)],
                                scratchpad: $0)
            }
        }
        if let dbias {
            if !primitiveSumsBias {
                // bf16: a plain sum of the fp32 dy keeps the bias gradient at fp32 accuracy.
                GEMM.accumulateColumnSums(rows: g.n * g.ho * g.wo, cols: g.cout, x: dy, into: dbias)
            } else {
                for i in parts.indices { Vectorized.add(biasPartials + i * g.cout, into: dbias, count: g.cout) }
            }
        }
        return true
    }
}
