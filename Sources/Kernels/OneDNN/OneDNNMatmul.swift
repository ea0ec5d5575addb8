import CDNNL

/// A linear layer's products (weight W [n, k], row-major) through oneDNN's matmul, as
/// `LinearProducts` runs them in bf16: forward y = x W^T, backward dx = dy W and dW += dy^T x.
///
/// Threads as in `OneDNNConvolution`: the rows are cut into pieces, handed out to our
/// `Parallel` workers, each piece one single-threaded primitive. In bf16 each worker first
/// converts its piece of x (or dy) into a bf16 copy that stays in cache for the product;
/// W is converted once per call (with the reorder into the primitive's layout). Each
/// function returns false, before touching any output, when oneDNN has no primitive for
/// the shape (the caller then runs `GEMM`).
package enum OneDNNMatmul {
    /// Consecutive pieces of `m` rows: 128-512 rows, at least four per worker where that
    /// fits. One thread ran 512-2048-row bf16 pieces at 200-230 GFLOPS, 128-row ones at
    /// 180-225 and 64-row ones at 160-215 (Zen 4, 2026-12-06), and each piece costs a call.
    package static func pieces(_ m: Int) -> [Range<Int>] {
        let rows = min(512, max(128, (m + 4 * Parallel.threads - 1) / (4 * Parallel.threads)))
        return stride(from: 0, to: m, by: rows).map { $0..<min(m, $0 + rows) }
    }

    typealias Key = OneDNNMatmulPlan.Key

    /// y[m, n] (rows `ldy` apart) = x[m, k] W^T + bias (+ residual [m, n], dense).
    /// Without a residual the primitive adds the bias; with one, each piece's rows of y are
    /// first set to bias + residual (in cache just before the product adds into them).
    package static func forward(m: Int, k: Int, n: Int, x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>, ldy: Int, precision: ConvolutionPrecision) -> Bool {
        forward(m: m, k: k, n: n, x: .fp32(x), ldx: ldx, weight: weight, bias: bias, residual: residual, y: y, ldy: ldy,
                precision: precision)
    }

    /// `forward` on an x that may be bf16 already (dense, `ldx` = k; bf16 precision only).
    package static func forward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                y: UnsafeMutablePointer<Float>, ldy: Int, precision: ConvolutionPrecision) -> Bool {
        let parts = pieces(m)
        let converts = precision == .bf16
        let product: OneDNNMatmulPlan.Product = residual == nil ? .forward : .forwardAccumulate
        func key(_ rows: Int) -> Key {
            Key(product: product, rows: rows, k: k, n: n, precision: precision, ldIn: converts ? k : ldx, ldOut: ldy, ldX: 0)
        }
        guard let plans = plans(parts, key), let xs = Operand(x, cols: k, ld: ldx, parts, converts) else { return false }
        let weights = PreparedWeights(Array(plans.values), weight)
        defer { weights.release() }
        Parallel.forEachWithWorker(parts.count) { p, worker in
            let r = parts[p], plan = plans[r.count]!
            if let residual {
                for i in r { Vectorized.sum(bias, residual + i * n, into: y + i * ldy, count: n) }
            }
            OneDNN.useThreads(1)
            xs.piece(r, worker: worker) { xp in
                plan.run(src: xp, weights: weights[plan], dst: y + r.lowerBound * ldy, bias: residual == nil ? bias : nil)
            }
        }
        return true
    }

    /// y[m, n] (rows `ldy` apart) = x[m, k] W^T + bias in bf16 arithmetic, y written in bf16
    /// (the fp32 sums plus bias, rounded to nearest even).
    package static func forward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>, bf16Output y: UnsafeMutablePointer<UInt16>, ldy: Int) -> Bool {
        let parts = pieces(m)
        guard let plans = plans(parts, { Key(product: .forward, rows: $0, k: k, n: n, precision: .bf16, ldIn: k, ldOut: ldy,
                                             ldX: 0, bf16Output: true) }),
              let xs = Operand(x, cols: k, ld: ldx, parts, true) else { return false }
        let weights = PreparedWeights(Array(plans.values), weight)
        defer { weights.release() }
        Parallel.forEachWithWorker(parts.count) { p, worker in
            let r = parts[p], plan = plans[r.count]!
            OneDNN.useThreads(1)
            xs.piece(r, worker: worker) { xp in plan.run(src: xp, weights: weights[plan], dst: y + r.lowerBound * ldy, bias: bias) }
        }
        return true
    }

    /// dW[n, k] += dy[m, n]^T x[m, k] and, when `dx` is given, dx[m, k] = dy W (overwritten).
    /// Each worker adds its pieces' weight gradients into a buffer of its own; the buffers
    /// are summed into `dweight` at the end.
    package static func backward(m: Int, k: Int, n: Int, x: UnsafePointer<Float>, ldx: Int, weight: UnsafePointer<Float>,
                                 dy: UnsafePointer<Float>, lddy: Int, dx: UnsafeMutablePointer<Float>?, lddx: Int,
                                 dweight: UnsafeMutablePointer<Float>, precision: ConvolutionPrecision) -> Bool {
        backward(m: m, k: k, n: n, x: .fp32(x), ldx: ldx, weight: weight, dy: dy, lddy: lddy, dx: dx, lddx: lddx,
                 dweight: dweight, precision: precision)
    }

    /// `backward` on an x that may be bf16 already (dense, `ldx` = k; bf16 precision only).
    package static func backward(m: Int, k: Int, n: Int, x: ActivationInput, ldx: Int, weight: UnsafePointer<Float>,
                                 dy: UnsafePointer<Float>, lddy: Int, dx: UnsafeMutablePointer<Float>?, lddx: Int,
                                 dweight: UnsafeMutablePointer<Float>, precision: ConvolutionPrecision) -> Bool {
        let parts = pieces(m)
        let converts = precision == .bf16
        let (ldIn, ldX) = (converts ? n : lddy, converts ? k : ldx)
        guard let weightPlans = plans(parts, { Key(product: .weightGradient, rows: $0, k: k, n: n, precision: precision,
                                                   ldIn: ldIn, ldOut: k, ldX: ldX) }),
              let dataPlans = dx == nil ? [:] : plans(parts, { Key(product: .inputGradient, rows: $0, k: k, n: n,
                                                                   precision: precision, ldIn: ldIn, ldOut: lddx, ldX: 0) }),
              let dys = Operand(.fp32(dy), cols: n, ld: lddy, parts, converts), let xs = Operand(x, cols: k, ld: ldx, parts, converts)
        else { return false }
        let weights = PreparedWeights(Array(dataPlans.values), weight)
        defer { weights.release() }
        let partials = WorkerPartials(workers: Parallel.workerCount(parts.count), size: n * k)
        Parallel.forEachWithWorker(parts.count) { p, worker in
            let r = parts[p]
            OneDNN.useThreads(1)
            dys.piece(r, worker: worker) { dyp in
                if let dx, let plan = dataPlans[r.count] {
                    plan.run(src: dyp, weights: weights[plan], dst: dx + r.lowerBound * lddx)
                }
                xs.piece(r, worker: worker) { xp in
                    let partial = partials[worker]
                    if partials.beta(worker) == 0 { partial.initialize(repeating: 0, count: n * k) }
                    weightPlans[r.count]!.run(src: dyp, weights: xp, dst: partial)
                }
            }
        }
        partials.addAll(into: dweight)
        return true
    }

    /// The plan of each distinct piece size, or nil after reporting why oneDNN has none.
    private static func plans(_ parts: [Range<Int>], _ key: (Int) -> Key) -> [Int: OneDNNMatmulPlan]? {
        var out: [Int: OneDNNMatmulPlan] = [:]
        for rows in Set(parts.map(\.count)) {
            let k = key(rows)
            switch OneDNNMatmulPlan.plan(k) {
            case .success(let p): out[rows] = p
            case .failure(let error):
                OneDNN.reportOnce("matmul for \(k.product) \(k.precision) \(k.k)x\(k.n)", error)
                return nil
            }
        }
        return out
    }

    /// An activation [m, cols] (rows `ld` apart) as the products read it, piece by piece: in
    /// place (fp32 products, or a dense bf16 input), or converted from fp32 into a dense bf16
    /// copy in the worker's own buffer (one allocation per call rather than per piece).
    final class Operand {
        let base: ActivationInput
        let cols, ld: Int
        /// By piece size; empty when the products read the rows in place.
        let conversions: [Int: OneDNNBF16Conversion]
        private let buffers: UnsafeMutableRawPointer?
        private let bufferBytes: Int

        init?(_ base: ActivationInput, cols: Int, ld: Int, _ parts: [Range<Int>], _ bf16: Bool) {
            self.base = base; self.cols = cols; self.ld = ld
            precondition(!base.isBF16 || (bf16 && ld == cols), "a bf16 operand is read dense by bf16 products only")
            let converts = bf16 && !base.isBF16
            var conversions: [Int: OneDNNBF16Conversion] = [:]
            if converts {
                for rows in Set(parts.map(\.count)) {
                    switch OneDNNBF16Conversion.conversion(rows: rows, cols: cols, ld: ld) {
                    case .success(let c): conversions[rows] = c
                    case .failure(let error): OneDNN.reportOnce("bf16 conversion of \(rows)x\(cols)", error); return nil
                    }
                }
            }
            self.conversions = conversions
            // Rounded up to cache lines, so that no two workers' copies share one.
            bufferBytes = (2 * (parts.map(\.count).max() ?? 0) * cols + 63) / 64 * 64
            buffers = converts ? .allocate(byteCount: Parallel.workerCount(parts.count) * bufferBytes, alignment: 64) : nil
        }

        deinit { buffers?.deallocate() }

        /// `body` gets rows `r` as the product reads them; `worker` owns its buffer meanwhile.
        func piece(_ r: Range<Int>, worker: Int, _ body: (UnsafeRawPointer) -> Void) {
            let start = base.element(r.lowerBound * ld)
            guard let conversion = conversions[r.count], let buffers else { body(start); return }
            let copy = buffers + worker * bufferBytes
            conversion.run(start.assumingMemoryBound(to: Float.self), into: copy)
            body(UnsafeRawPointer(copy))
        }
    }

    /// W in each plan's weight layout: one reorder per distinct layout, or W itself where
    /// a plan reads ours. `release()` frees the copies.
    struct PreparedWeights {
        private var byLayout: [(OneDNNMatmulPlan, UnsafeRawPointer)] = []
        private var owned: [UnsafeMutableRawPointer] = []

        init(_ plans: [OneDNNMatmulPlan], _ weight: UnsafePointer<Float>) {
            OneDNN.useThreads(1)
            for plan in plans where !byLayout.contains(where: { OneDNN.same($0.0.weights, plan.weights) }) {
                guard let reorder = plan.weightsReorder else { byLayout.append((plan, UnsafeRawPointer(weight))); continue }
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: OneDNN.bytes(plan.weights), alignment: 64)
                owned.append(buffer)
                OneDNNConvolution.withScratchpad(reorder.scratchpadBytes) { sp in
                    reorder.execute([.init(DNNL_ARG_FROM, plan.userWeights, weight), .init(DNNL_ARG_TO, plan.weights, buffer)],
                                    scratchpad: sp)
                }
                byLayout.append((plan, UnsafeRawPointer(buffer)))
            }
        }

        subscript(plan: OneDNNMatmulPlan) -> UnsafeRawPointer {
            byLayout.first { OneDNN.same($0.0.weights, plan.weights) }!.1
        }

        func release() { for b in owned { b.deallocate() } }
    }
}

extension OneDNNMatmulPlan {
    /// Runs the product on one piece (single-threaded: the caller has set one OpenMP thread).
    func run(src a: UnsafeRawPointer, weights b: UnsafeRawPointer, dst c: UnsafeMutableRawPointer,
             bias d: UnsafePointer<Float>? = nil) {
        var args: [OneDNN.Argument] = [.init(DNNL_ARG_SRC, src, a), .init(DNNL_ARG_WEIGHTS, weights, b), .init(DNNL_ARG_DST, dst, c)]
        if let d { args.append(.init(DNNL_ARG_BIAS, bias, d)) }
        OneDNNConvolution.withScratchpad(primitive.scratchpadBytes) { sp in
            primitive.execute(args, scratchpad: sp)
        }
    }
}
