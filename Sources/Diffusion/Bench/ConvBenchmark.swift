extension UNetConfig {
    /// Every convolution of the U-Net for a batch of n, in forward order (from the same
    /// plans the model is built from).
    public func convolutions(batch n: Int) -> [ConvGeometry] {
        var out: [ConvGeometry] = []
        var size = sampleSize
        func conv(_ cin: Int, _ cout: Int, k: Int = 3, stride: Int = 1) {
            out.append(ConvGeometry(n: n, h: size, w: size, cin: cin, cout: cout, k: k, stride: stride, pad: (k - 1) / 2))
        }
        func resnet(_ r: ResnetPlan) {
            conv(r.concatChannels, r.outChannels)
            conv(r.outChannels, r.outChannels)
            if r.hasShortcut { conv(r.concatChannels, r.outChannels, k: 1) }
        }
        conv(inChannels, blockOutChannels[0])
        for block in downPlan {
            block.resnets.forEach(resnet)
            if block.hasDownsample { conv(block.outChannels, block.outChannels, stride: 2); size /= 2 }
        }
        midPlan.resnets.forEach(resnet)
        for block in upPlan {
            block.resnets.forEach(resnet)
            if block.hasUpsample { size *= 2; conv(block.outChannels, block.outChannels) }
        }
        conv(blockOutChannels[0], outChannels)
        return out
    }
}

/// Times each distinct convolution shape of a model on each backend: forward, weight (+bias)
/// gradient alone, whole backward (weight, bias and input gradients); best of a few runs after a warm-up, on random data.
/// With one thread everything runs on the calling thread, and its CPU time is what is
/// measured: other jobs on a shared machine then barely change the figures. With more
/// threads it is wall time.
public enum ConvBenchmark {
    public struct Timing: Sendable {
        /// Seconds. (The input gradient is not timed alone: the backward call always also
        /// makes the weight gradient, and a difference of two noisy times is noisier still.)
        public var forward = 0.0, weightGradient = 0.0, backward = 0.0
        /// oneDNN only: putting our weights into the forward primitive's layout (part of `forward`).
        public var weightReorder: Double?
        /// What actually ran (our kernels when oneDNN had no primitive for the shape).
        public var ranOn: ConvolutionBackend = .swift
        public var total: Double { forward + backward }
    }

    public struct Row: Sendable {
        public let geometry: ConvGeometry
        /// How many convolutions of the model have this shape.
        public let count: Int
        public var timings: [Timing]
        /// Multiply-adds counted as 2 FLOPs, every tap included (also those on padding).
        public var flop: Double { 2.0 * Double(geometry.outRows * geometry.colWidth * geometry.cout) }
    }

    /// Our kernels, then each oneDNN precision and algorithm as this machine runs it (a bf16
    /// request that comes out fp32 is not timed twice), with the notes of what had to change.
    public static func backendsToCompare() -> (backends: [ConvolutionBackend], notes: [String]) {
        var backends: [ConvolutionBackend] = [.swift], notes: [String] = []
        for p in ConvolutionPrecision.allCases {
            for a in ConvolutionAlgorithm.allCases {
                let (b, note) = ConvolutionBackend.resolve(.oneDNN(p, a))
                if let note, !notes.contains(note) { notes.append(note) }
                if !backends.contains(b) { backends.append(b) }
            }
        }
        return (backends, notes)
    }

    /// Seconds of every convolution of one training step (forward and whole backward, each
    /// shape times its count), per backend, in the order of the rows' timings.
    public static func stepSeconds(_ rows: [Row]) -> [Double] {
        guard let first = rows.first else { return [] }
        return first.timings.indices.map { i in rows.reduce(0.0) { $0 + Double($1.count) * $1.timings[i].total } }
    }

    /// FLOPs of those convolutions: the forward's, and twice that for the backward.
    public static func stepFLOP(_ rows: [Row]) -> Double {
        rows.reduce(0.0) { $0 + Double($1.count) * 3 * $1.flop }
    }

    /// Distinct shapes with their counts, in order of first appearance.
    public static func distinct(_ shapes: [ConvGeometry]) -> [(ConvGeometry, Int)] {
        var out: [(ConvGeometry, Int)] = []
        for g in shapes {
            if let i = out.firstIndex(where: { $0.0 == g }) { out[i].1 += 1 } else { out.append((g, 1)) }
        }
        return out
    }

    /// With `details` false only the forward and the whole backward are timed (what a train
    /// step runs; `--precision auto` needs no more), not the weight gradient alone or the reorder.
    public static func run(shapes: [(ConvGeometry, Int)], backends: [ConvolutionBackend], repeats: Int, details: Bool = true,
                           progress: (Row) -> Void = { _ in }) -> [Row] {
        shapes.map { g, count in
            var rng = RandomStream(seed: 7, key: UInt64(g.cin * 1000 + g.cout))
            func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
                rng.fillNormal(p, count: n)
                return p
            }
            let x = buffer(g.n * g.h * g.w * g.cin), w = buffer(g.colWidth * g.cout), b = buffer(g.cout)
            let dy = buffer(g.outRows * g.cout), y = buffer(g.outRows * g.cout)
            let dx = buffer(g.n * g.h * g.w * g.cin), dw = buffer(g.colWidth * g.cout), db = buffer(g.cout)
            defer { for p in [x, w, b, dy, y, dx, dw, db] { p.deallocate() } }
            let timings = backends.map { backend -> Timing in
                var t = Timing()
                t.forward = best(repeats) { t.ranOn = backend.forward(g, x: x, weight: w, bias: b, y: y) }
                if details {
                    t.weightGradient = best(repeats) {
                        backend.backward(g, x: x, weight: w, dy: dy, dx: nil, dweight: dw, dbias: db)
                    }
                }
                t.backward = best(repeats) { backend.backward(g, x: x, weight: w, dy: dy, dx: dx, dweight: dw, dbias: db) }
                if details, case .oneDNN(let p, let a) = t.ranOn {
                    t.weightReorder = best(repeats) { OneDNNConvolution.reorderWeights(g, precision: p, algorithm: a, weight: w) }
                }
                return t
            }
            let row = Row(geometry: g, count: count, timings: timings)
            progress(row)
            return row
        }
    }

    /// "thread CPU" or "wall": what `run` measures with the current thread count.
    public static var clockName: String { Parallel.threads == 1 ? "thread CPU time" : "wall time" }

    static func best(_ repeats: Int, _ body: () -> Void) -> Double {
        let clock = Parallel.threads == 1 ? ResourceUsage.threadCPUSeconds : ResourceUsage.now
        body()
        var best = Double.infinity
        for _ in 0..<max(repeats, 1) {
            let t0 = clock()
            body()
            best = min(best, clock() - t0)
        }
        return best
    }
}
