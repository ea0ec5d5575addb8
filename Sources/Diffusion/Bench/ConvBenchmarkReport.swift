import Foundation

/// What `bench conv` reports: GFLOPS of each distinct convolution shape of a U-Net on each
/// backend (ours, oneDNN fp32 direct and Winograd, bf16), and the seconds of all the
/// convolutions of one train step per backend. Its JSON is `bench conv --json`.
public struct ConvBenchmarkReport: Codable, Sendable {
    /// One backend on one shape. GFLOPS count every tap (`ConvBenchmark.Row.flop`).
    public struct Cell: Codable, Sendable {
        /// The backend asked for, and what ran: our kernels where oneDNN has no primitive for
        /// the shape.
        public let backend, ranOn: String
        public let forwardGFLOPS, weightGradientGFLOPS: Double
        /// Weight, bias and input gradients: twice the forward's FLOPs.
        public let backwardGFLOPS: Double
        /// oneDNN only: reordering the weights into its layout, part of the forward.
        public let weightReorderMilliseconds: Double?

        init(backend: ConvolutionBackend, flop: Double, timing t: ConvBenchmark.Timing) {
            self.backend = backend.description
            ranOn = t.ranOn.description
            forwardGFLOPS = flop / t.forward * 1e-9
            weightGradientGFLOPS = flop / t.weightGradient * 1e-9
            backwardGFLOPS = 2 * flop / t.backward * 1e-9
            weightReorderMilliseconds = t.weightReorder.map { $0 * 1e3 }
        }
    }

    /// One distinct convolution shape of the model.
    public struct Shape: Codable, Sendable {
        /// How many of the model's convolutions have it.
        public let count: Int
        public let n, h, w, cin, cout, k, stride, pad: Int
        /// FLOPs of its forward.
        public let flop: Double
        /// In the order of `backends`.
        public let cells: [Cell]

        init(_ row: ConvBenchmark.Row, backends: [ConvolutionBackend]) {
            let g = row.geometry
            count = row.count
            n = g.n; h = g.h; w = g.w; cin = g.cin; cout = g.cout; k = g.k; stride = g.stride; pad = g.pad
            flop = row.flop
            cells = zip(backends, row.timings).map { Cell(backend: $0, flop: row.flop, timing: $1) }
        }

        /// " 2x 16  32-> 64 3 1 | " (count, size, channels, kernel, stride), then each backend's
        /// forward, weight gradient and backward GFLOPS and oneDNN's weight reorder, in
        /// `ConvBenchmarkReport.cellWidth` columns.
        public var line: String {
            String(format: "%2dx %2d %3d->%3d %d %d | ", count, h, cin, cout, k, stride) + cells.map { c in
                String(format: "%6.1f %6.1f %6.1f", c.forwardGFLOPS, c.weightGradientGFLOPS, c.backwardGFLOPS)
                    + (c.weightReorderMilliseconds.map { String(format: " wr%5.2f", $0) } ?? "        ")
            }.joined(separator: " | ")
        }
    }

    /// All the convolutions of one train step (forward and whole backward, each shape times its
    /// count) on one backend.
    public struct StepTotal: Codable, Sendable {
        public let backend: String
        public let seconds, gflops: Double
        /// Our kernels' seconds over these.
        public let speedupOverSwift: Double
        /// The loop of the engine that ran (`ArithmeticPeak.engine(of:)`), and `gflops` as a
        /// share of its measured peak (nil when not measured or not on this CPU).
        public let engine: String
        public let enginePeakShare: Double?
    }

    public let preset: String
    public let batch, threads, repeats: Int
    /// "thread CPU time" (one thread) or "wall time": what was timed.
    public let clock: String
    /// oneDNN's version and the instruction set it dispatches.
    public let oneDNN: String
    /// What had to change on this machine (no bf16, no oneDNN engine).
    public let notes: [String]
    public let backends: [String]
    public let shapes: [Shape]
    public let stepTotals: [StepTotal]

    /// The report of timed `rows` (no measuring here).
    public init(preset: ModelPreset, batch: Int, threads: Int, repeats: Int, clock: String, oneDNN: String, notes: [String],
                backends: [ConvolutionBackend], rows: [ConvBenchmark.Row], peaks: [ArithmeticPeak.Loop: Double] = [:]) {
        self.preset = preset.rawValue
        self.batch = batch; self.threads = threads; self.repeats = repeats
        self.clock = clock; self.oneDNN = oneDNN; self.notes = notes
        self.backends = backends.map(\.description)
        shapes = rows.map { Shape($0, backends: backends) }
        let seconds = ConvBenchmark.stepSeconds(rows), flop = ConvBenchmark.stepFLOP(rows)
        stepTotals = zip(backends, seconds).map { b, t in
            let engine = ArithmeticPeak.engine(of: b)
            return StepTotal(backend: b.description, seconds: t, gflops: flop / t * 1e-9, speedupOverSwift: seconds[0] / t,
                             engine: engine.rawValue, enginePeakShare: peaks[engine].map { flop / t * 1e-9 / $0 })
        }
    }

    /// Characters of one backend's figures in a shape's line.
    static let cellWidth = 28

    /// The lines before the shapes: notes, the setting, and the column heads.
    public var headerLines: [String] {
        notes.map { "note: \($0)" } + [
            "preset \(preset), batch \(batch), \(threads) threads (\(clock)), \(oneDNN)",
            "GFLOPS (every tap counted) forward / weight+bias gradient / whole backward (weights and input, 2x the FLOPs); "
                + "wr = oneDNN weight reorder ms (inside forward)",
            "  n  h  in->out k s | "
                + backends.map { $0.padding(toLength: max(Self.cellWidth, $0.count), withPad: " ", startingAt: 0) }
                    .joined(separator: " | "),
        ]
    }

    /// The lines after the shapes: each backend's train step, and where oneDNN fell back.
    public var totalLines: [String] {
        stepTotals.map { t in
            let share = t.enginePeakShare.map { String(format: "; %.0f%% of the %@ peak", 100 * $0, t.engine as NSString) }
            return String(format: "%@: all convolutions of one train step %.3f s, %.1f GFLOPS (x%.2f vs swift",
                          t.backend as NSString, t.seconds, t.gflops, t.speedupOverSwift) + (share ?? "") + ")"
        } + shapes.flatMap { s in
            s.cells.filter { $0.ranOn != $0.backend }.map {
                "note: \($0.backend) fell back to the Swift kernels for n \(s.n), \(s.h)x\(s.w), \(s.cin)->\(s.cout), "
                    + "k \(s.k), stride \(s.stride)"
            }
        }
    }

    /// Everything `bench conv` prints.
    public var summary: String { (headerLines + shapes.map(\.line) + totalLines).joined(separator: "\n") }
}

extension ConvBenchmarkReport {
    /// Times every distinct convolution shape of `preset`'s U-Net (32x32 images, batch `batch`)
    /// on each backend this machine runs (`ConvBenchmark.backendsToCompare`), with `threads`
    /// the `Parallel` thread count the caller set. `log` gets the header, each shape's line as
    /// it is timed (a shape can take seconds), then the totals: `summary`, a line at a time.
    public static func measure(preset: ModelPreset, batch: Int, repeats: Int, threads: Int, log: (String) -> Void) -> ConvBenchmarkReport {
        let config = preset.benchmarkConfig
        let (backends, notes) = ConvBenchmark.backendsToCompare()
        func report(_ rows: [ConvBenchmark.Row], peaks: [ArithmeticPeak.Loop: Double] = [:]) -> ConvBenchmarkReport {
            ConvBenchmarkReport(preset: preset, batch: batch, threads: threads, repeats: repeats,
                                clock: ConvBenchmark.clockName, oneDNN: ConvolutionBackend.oneDNNDescription, notes: notes,
                                backends: backends, rows: rows, peaks: peaks)
        }
        report([]).headerLines.forEach(log)
        let rows = ConvBenchmark.run(shapes: ConvBenchmark.distinct(config.convolutions(batch: batch)), backends: backends,
                                     repeats: repeats) { log(Shape($0, backends: backends).line) }
        // Each backend's engine peak on the same threads, after the shapes (their lines come first).
        let measured = PeakReport.Peaks(threads: threads)
        var peaks: [ArithmeticPeak.Loop: Double] = [:]
        for engine in backends.map(ArithmeticPeak.engine(of:)) { peaks[engine] = measured[engine] }
        let done = report(rows, peaks: peaks)
        done.totalLines.forEach(log)
        return done
    }
}
