import ArgumentParser
import Diffusion
import Foundation

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "GFLOPS of every convolution shape of a U-Net: Swift kernels, oneDNN fp32 (direct and Winograd) and bf16 side by side.")

    @Option(help: "Model preset.") var preset: ModelPreset = .small
    @Option(help: "Batch, in 1...4096.") var batch = 128
    @Option(help: "Timed runs per pass (best counts), after one warm-up, in 1...1000.") var repeats = 3
    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(repeats, "--repeats", 1...1000)
    }

    func run() throws {
        var config = preset.config
        config.sampleSize = Preprocess.imageSize
        let threads = threads.configureSingleProcess()
        let (backends, notes) = ConvBenchmark.backendsToCompare()
        for note in notes { print("note: \(note)") }
        print("preset \(preset.rawValue), batch \(batch), \(threads) threads (\(ConvBenchmark.clockName)), \(ConvolutionBackend.oneDNNDescription)")
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
        let totals = ConvBenchmark.stepSeconds(rows), flop = ConvBenchmark.stepFLOP(rows)
        for (b, t) in zip(backends, totals) {
            print(String(format: "%@: all convolutions of one train step %.3f s, %.1f GFLOPS (x%.2f vs swift)",
                         "\(b)" as NSString, t, flop / t * 1e-9, totals[0] / t))
        }
        for r in rows { for (b, t) in zip(backends, r.timings) where t.ranOn != b {
            print("note: \(b) fell back to the Swift kernels for \(r.geometry)")
        } }
    }
}
