import CDNNL
import Foundation

/// `Conv2D`'s forward and backward (same arguments, same results) through oneDNN.
///
/// Threads: the batch is cut into one slice per `Parallel` worker and each worker runs
/// single-threaded primitives on its slice, so oneDNN uses exactly our thread count and
/// no OpenMP team is left spinning next to our own workers after a call. With Winograd a
/// slice is run in pieces (`Pieces`). Weight gradients come out per piece and are summed.
/// Each function returns false, before touching any output, when oneDNN has no primitive
/// for the shape (the caller then runs `Conv2D`).
package enum OneDNNConvolution {
    /// The batch slices: as many as workers, sizes differing by at most one.
    package static func slices(_ n: Int) -> [Range<Int>] {
        split(0..<n, into: Parallel.workerCount(n))
    }

    /// `range` cut into `parts` consecutive ranges whose sizes differ by at most one.
    static func split(_ range: Range<Int>, into parts: Int) -> [Range<Int>] {
        let base = range.count / parts, extra = range.count % parts
        var out: [Range<Int>] = [], start = range.lowerBound
        for p in 0..<parts {
            let size = base + (p < extra ? 1 : 0)
            out.append(start..<(start + size))
            start += size
        }
        return out
    }

    /// The batch as the primitives take it: each worker's slice whole, or with Winograd cut
    /// into pieces whose blocked copies of x and y stay under `pieceBytes`. Winograd's
    /// scratchpad (the transformed tiles) grows with the images per call too. Whole slices
    /// asked for 50-100 MB per worker and call at the seed preset: above malloc's mmap
    /// threshold, so every call faulted in fresh pages (the small preset trained slower than
    /// direct), and a pool that kept them added 150 MB to peak RSS. Pieces ask for 8-31 MB,
    /// which malloc reuses, and keep each reorder's output in cache for the primitive.
    package struct Pieces {
        /// Every piece, in batch order.
        package let ranges: [Range<Int>]
        /// Indices into `ranges`, per worker.
        package let byWorker: [[Int]]

        package static let pieceBytes = 4 << 20

        package init(_ g: ConvGeometry, _ precision: ConvolutionPrecision, _ algorithm: ConvolutionAlgorithm) {
            let bytesPerImage = 4 * (g.h * g.w * g.cin + g.ho * g.wo * g.cout)
            let cut = algorithm == .winograd && usesWinograd(g, precision)
            let perPiece = max(1, Self.pieceBytes / bytesPerImage)
            var ranges: [Range<Int>] = [], byWorker: [[Int]] = []
            for slice in slices(g.n) {
                let mine = split(slice, into: cut ? (slice.count + perPiece - 1) / perPiece : 1)
                byWorker.append(Array(ranges.count..<(ranges.count + mine.count)))
                ranges += mine
            }
            self.ranges = ranges; self.byWorker = byWorker
        }
    }

    /// The plan of each piece (pieces of one size share one), or nil after reporting why
    /// oneDNN cannot run this convolution. A Winograd request runs Winograd where
    /// `usesWinograd` says it pays and oneDNN has it, and the direct algorithm elsewhere.
    static func plans(_ g: ConvGeometry, _ pieces: [Range<Int>], _ pass: OneDNNConvolutionPlan.Pass,
                      _ precision: ConvolutionPrecision, _ algorithm: ConvolutionAlgorithm) -> [OneDNNConvolutionPlan]? {
        var bySize: [Int: OneDNNConvolutionPlan] = [:]
        var out: [OneDNNConvolutionPlan] = []
        for s in pieces {
            if let p = bySize[s.count] { out.append(p); continue }
            switch plan(g.withBatch(s.count), pass, precision, algorithm) {
            case .success(let p): bySize[s.count] = p; out.append(p)
            case .failure(let error): reportOnce(g, pass, precision, error); return nil
            }
        }
        return out
    }

    /// One piece's plan: Winograd where asked, `usesWinograd` and oneDNN builds it, else direct.
    private static func plan(_ g: ConvGeometry, _ pass: OneDNNConvolutionPlan.Pass, _ precision: ConvolutionPrecision,
                             _ algorithm: ConvolutionAlgorithm) -> Result<OneDNNConvolutionPlan, Error> {
        if algorithm == .winograd, usesWinograd(g, precision),
           case .success(let p) = OneDNNConvolutionPlan.plan(.init(g, pass, precision, .winograd, threads: 1)) {
            return .success(p)
        }
        return OneDNNConvolutionPlan.plan(.init(g, pass, precision, .direct, threads: 1))
    }

    /// The algorithm each pass of this convolution runs when `algorithm` is asked for (nil
    /// where oneDNN has none): for tests and benchmarks.
    package static func algorithms(_ g: ConvGeometry, _ precision: ConvolutionPrecision,
                                   _ algorithm: ConvolutionAlgorithm) -> [ConvolutionAlgorithm?] {
        let sg = g.withBatch(Pieces(g, precision, algorithm).ranges[0].count)
        let passes: [OneDNNConvolutionPlan.Pass] = [.forward, .forwardAccumulate, .backwardData, .backwardWeights]
        return passes.map { pass in (try? plan(sg, pass, precision, algorithm).get())?.key.algorithm }
    }

    /// Where Winograd F(4x4, 3x3) pays here: fp32 (oneDNN has no bf16 Winograd), 3x3 stride 1
    /// and padding 1, channel counts in its 16-channel blocks, and at least 64 channels on one
    /// side. Below that the reorders to and from its blocked layout (memory-bound, ~(Cin + Cout)
    /// per pixel) cost what it saves on the products (~Cin * Cout): at 32 -> 32 channels it
    /// measured even with direct, at 64 -> 64 1.4-1.7x faster (docs/kernels.md).
    static func usesWinograd(_ g: ConvGeometry, _ precision: ConvolutionPrecision) -> Bool {
        precision == .fp32 && g.k == 3 && g.stride == 1 && g.pad == 1
            && g.cin % 16 == 0 && g.cout % 16 == 0 && max(g.cin, g.cout) >= 64
    }

    private static func reportOnce(_ g: ConvGeometry, _ pass: OneDNNConvolutionPlan.Pass,
                                   _ precision: ConvolutionPrecision, _ error: Error) {
        OneDNN.reportOnce("convolution for \(pass) \(precision) k\(g.k) s\(g.stride) \(g.cin)->\(g.cout) \(g.h)x\(g.w)", error)
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

    /// The conversion `plan` applies to x: none for a bf16 input, which a bf16 direct plan
    /// reads as it is (NHWC).
    static func conversion(of x: ActivationInput, _ plan: OneDNNConvolutionPlan) -> OneDNN.Primitive? {
        guard x.isBF16 else { return plan.xConvert }
        precondition(plan.key.precision == .bf16 && plan.key.algorithm == .direct,
                     "a bf16 input for a \(plan.key.precision) \(plan.key.algorithm) convolution")
        return nil
    }

    /// `source` (fp32 NHWC) in the primitive's type and layout, for the duration of `body`;
    /// `source` itself when there is no conversion.
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

    /// `body` writes the primitive's output to the buffer it is given: `destination` itself
    /// when there is no `output` reorder, else a temporary in the primitive's layout that the
    /// reorder then writes (or adds) into `destination`.
    static func writing(_ output: OneDNN.Primitive?, from: dnnl_memory_desc_t, to: dnnl_memory_desc_t,
                        _ destination: UnsafeMutableRawPointer, _ body: (UnsafeMutableRawPointer) -> Void) {
        guard let output else { body(destination); return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: OneDNN.bytes(from), alignment: 64)
        defer { buffer.deallocate() }
        body(buffer)
        withScratchpad(output.scratchpadBytes) { sp in
            output.execute([.init(DNNL_ARG_FROM, from, buffer), .init(DNNL_ARG_TO, to, destination)], scratchpad: sp)
        }
    }

    /// Only the forward pass's weight reorder, for benchmarks (it is part of every `forward`).
    package static func reorderWeights(_ g: ConvGeometry, precision: ConvolutionPrecision, algorithm: ConvolutionAlgorithm,
                                       weight: UnsafePointer<Float>) {
        guard let plans = plans(g, Pieces(g, precision, algorithm).ranges, .forward, precision, algorithm) else { return }
        PreparedWeights(plans, weight).release()
    }

    /// y = conv(x, weight) + bias (+ imageBias[n] on every pixel of image n, + residual),
    /// as `Conv2D.forward`. With the extra terms each piece's rows of y are first set to
    /// bias + terms, then the convolution is added (a sum post-op, or the output reorder's).
    static func forward(_ g: ConvGeometry, precision: ConvolutionPrecision, algorithm: ConvolutionAlgorithm, x: ActivationInput,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, imageBias: UnsafePointer<Float>?,
                        residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) -> Bool {
        let pieces = Pieces(g, precision, algorithm), parts = pieces.ranges
        let accumulate = imageBias != nil || residual != nil || bias == nil
        guard let plans = plans(g, parts, accumulate ? .forwardAccumulate : .forward, precision, algorithm) else { return false }
        let weights = PreparedWeights(plans, weight)
        defer { weights.release() }
        let (pixelsIn, pixelsOut) = (g.h * g.w * g.cin, g.ho * g.wo * g.cout)
        let pixels = g.ho * g.wo
        Parallel.forEach(pieces.byWorker.count) { worker in for i in pieces.byWorker[worker] {
            let (plan, s) = (plans[i], parts[i])
            if accumulate {
                // This piece's rows of y, just before the primitive adds into them (in cache).
                Vectorized.initRows(y, n: g.cout, rows: (s.lowerBound * pixels)..<(s.upperBound * pixels), bias: bias,
                                    rowBias: { r in imageBias.map { $0 + (r / pixels) * g.cout } }, residual: residual)
            }
            OneDNN.useThreads(1)
            converted(conversion(of: x, plan), from: plan.x, to: plan.xConv, x.element(s.lowerBound * pixelsIn)) { xs in
                writing(plan.output, from: plan.yConv, to: plan.y, y + s.lowerBound * pixelsOut) { ys in
                    var args: [OneDNN.Argument] = [
                        .init(DNNL_ARG_SRC, plan.xConv, xs), .init(DNNL_ARG_WEIGHTS, plan.weights, weights.pointers[i]),
                        .init(DNNL_ARG_DST, plan.yConv, ys),
                    ]
                    if !accumulate, let bias { args.append(.init(DNNL_ARG_BIAS, plan.bias, bias)) }
                    withScratchpad(plan.conv.scratchpadBytes) { plan.conv.execute(args, scratchpad: $0) }
                }
            }
        } }
        return true
    }

    /// As `Conv2D.backward`: dweight and dbias accumulate (+=), dx (when given) is overwritten.
    static func backward(_ g: ConvGeometry, precision: ConvolutionPrecision, algorithm: ConvolutionAlgorithm,
                         x: ActivationInput,
                         weight: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) -> Bool {
        let pieces = Pieces(g, precision, algorithm), parts = pieces.ranges
        guard let weightPlans = plans(g, parts, .backwardWeights, precision, algorithm) else { return false }
        var dataPlans: [OneDNNConvolutionPlan] = []
        if dx != nil {
            guard let p = plans(g, parts, .backwardData, precision, algorithm) else { return false }
            dataPlans = p
        }
        let weights = PreparedWeights(dataPlans, weight)
        defer { weights.release() }
        // One fp32 weight gradient (the primitive's layout) and, in fp32, bias gradient per piece.
        let gradBytes = weightPlans.map { OneDNN.bytes($0.weights) }
        let partials = gradBytes.map { UnsafeMutableRawPointer.allocate(byteCount: $0, alignment: 64) }
        let primitiveSumsBias = precision == .fp32
        let biasPartials = UnsafeMutablePointer<Float>.allocate(capacity: primitiveSumsBias ? parts.count * g.cout : 0)
        defer { partials.forEach { $0.deallocate() }; biasPartials.deallocate() }
        let (pixelsIn, pixelsOut) = (g.h * g.w * g.cin, g.ho * g.wo * g.cout)
        Parallel.forEach(pieces.byWorker.count) { worker in for i in pieces.byWorker[worker] {
            let (plan, s) = (weightPlans[i], parts[i])
            OneDNN.useThreads(1)
            let xs = x.element(s.lowerBound * pixelsIn), dys = dy + s.lowerBound * pixelsOut
            converted(plan.yConvert, from: plan.y, to: plan.yConv, dys) { dyc in
                converted(conversion(of: x, plan), from: plan.x, to: plan.xConv, xs) { xc in
                    withScratchpad(plan.conv.scratchpadBytes) {
                        var args: [OneDNN.Argument] = [.init(DNNL_ARG_SRC, plan.xConv, xc), .init(DNNL_ARG_DIFF_DST, plan.yConv, dyc),
                                                       .init(DNNL_ARG_DIFF_WEIGHTS, plan.weights, partials[i])]
                        if primitiveSumsBias { args.append(.init(DNNL_ARG_DIFF_BIAS, plan.bias, biasPartials + i * g.cout)) }
                        plan.conv.execute(args, scratchpad: $0)
                    }
                }
                guard let dx else { return }
                let data = dataPlans[i]
                // dy as converted above when both primitives read the same layout, else its own.
                let shared = OneDNN.same(data.yConv, plan.yConv)
                converted(shared ? nil : data.yConvert, from: data.y, to: data.yConv, shared ? dyc : UnsafeRawPointer(dys)) { dyd in
                    writing(data.output, from: data.xConv, to: data.x, dx + s.lowerBound * pixelsIn) { dxs in
                        withScratchpad(data.conv.scratchpadBytes) {
                            data.conv.execute([.init(DNNL_ARG_DIFF_DST, data.yConv, dyd),
                                               .init(DNNL_ARG_WEIGHTS, data.weights, weights.pointers[i]),
                                               .init(DNNL_ARG_DIFF_SRC, data.xConv, dxs)], scratchpad: $0)
                        }
                    }
                }
            }
        } }
        // Pieces of one size share a layout: sum those partials first, then one reorder adds
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
