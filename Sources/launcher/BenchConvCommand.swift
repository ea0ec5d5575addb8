import ArgumentParser
import Diffusion

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "GFLOPS of every convolution shape of a U-Net: Swift kernels, oneDNN fp32 (direct and Winograd) and bf16 side by side.",
        discussion: """
        Each distinct shape is timed forward, weight gradient alone and whole backward, on random \
        data; with one thread the figures are the thread's CPU time, with more wall time. The last \
        lines add up all the convolutions of one train step per backend. Past measurements, and \
        the choice of `--backend auto` they led to: docs/kernels.md.
        """)

    @Option(help: "Model preset.") var preset: ModelPreset = .small
    @Option(help: "Batch, in 1...4096.") var batch = 128
    @Option(help: "Timed runs per pass (best counts), after one warm-up, in 1...1000.") var repeats = 3
    @OptionGroup var threads: ThreadsOption
    @Option(help: "Also write the figures as JSON to this file.") var json: String?

    func validate() throws {
        if let json { try FileBytes.checkWritable(json) }
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(repeats, "--repeats", 1...1000)
    }

    func run() throws {
        let threads = threads.configureSingleProcess()
        let report = ConvBenchmarkReport.measure(preset: preset, batch: batch, repeats: repeats, threads: threads,
                                                 log: { print($0) })
        if let json { try writeJSON(report, to: json) }
    }
}
