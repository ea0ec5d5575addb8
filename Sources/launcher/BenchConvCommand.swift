import ArgumentParser
import Diffusion
import Foundation

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "GFLOPS of every convolution shape of a U-Net: Swift kernels, oneDNN fp32 and oneDNN bf16 side by side.")

    @Option(help: "Model preset: seed, small or tiny.") var preset = "small"
    @Option(help: "Batch.") var batch = 128
    @Option(help: "Timed runs per pass (best counts), after one warm-up.") var repeats = 3
    @Option(help: "Kernel threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard UNetConfig.preset(preset) != nil else { throw ValidationError("unknown preset '\(preset)': expected seed, small or tiny") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        var config = UNetConfig.preset(preset)!
        config.sampleSize = Preprocess.imageSize
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        BLAS.configure(threads: threads)
        var backends: [ConvolutionBackend] = [.swift]
        for p in ConvolutionPrecision.allCases {
            let (b, note) = ConvolutionBackend.resolve(.oneDNN(p))
            if let note { print("note: \(note)") }
            if !backends.contains(b) { backends.append(b) }
        }
        print("preset \(preset), batch \(batch), \(threads) threads (\(ConvBenchmark.clockName)), \(ConvolutionBackend.oneDNNDescription)")
        print("GFLOPS (every tap counted) forward / weight+bias gradient / whole backward (weights and input, 2x the FLOPs); "
              + "wr = oneDNN weight reorder ms (inside forward)")
        let header = backends.map { String(format: "%-27@", "\($0)" as NSString) }.joined(separator: " | ")
        print("n  h   cin->cout k s  | " + header)
        let rows = ConvBenchmark.run(shapes: ConvBenchmark.distinct(config.convolutions(batch: batch)),
                                     backends: backends, repeats: repeats) { row in
            let g = row.geometry
            let cells = row.timings.map { t -> String in
                var s = String(format: "%6.1f %6.1f %6.1f", row.flop / t.forward * 1e-9,
                               row.flop / t.weightGradient * 1e-9, 2 * row.flop / t.backward * 1e-9)
                s += t.weightReorder.map { String(format: " wr%5.2f", $0 * 1e3) } ?? "        "
                return s
            }
            print(String(format: "%dx %2d %3d->%3d %d %d | ", row.count, g.h, g.cin, g.cout, g.k, g.stride)
                  + cells.joined(separator: " | "))
        }
        // Whole-model convolution time per training step (forward + both gradients, every layer).
        let totals = backends.indices.map { i in rows.reduce(0.0) { $0 + Double($1.count) * $1.timings[i].total } }
        let flop = rows.reduce(0.0) { $0 + Double($1.count) * 3 * $1.flop }
        for (b, t) in zip(backends, totals) {
            print(String(format: "%@: all convolutions of one train step %.3f s, %.1f GFLOPS (x%.2f vs swift)",
                         "\(b)" as NSString, t, flop / t * 1e-9, totals[0] / t))
        }
        for r in rows { for (b, t) in zip(backends, r.timings) where t.ranOn != b {
            print("note: \(b) fell back to the Swift kernels for \(r.geometry)")
        } }
    }
}
