import ArgumentParser
import Diffusion

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "U-Net forward (no grad) and train step (forward, MSE, backward, Adam) images/s, GFLOPS and peak RSS.",
        discussion: """
        GFLOPS come from the preset's FLOPs per image, and are set against this machine's \
        arithmetic peak, measured just before (as `bench peak`). Past measurements: \
        docs/speed.md.
        """)

    @Option(help: "Model preset (seed or small: the presets with a FLOP count).") var preset: ModelPreset = .seed
    @Option(help: "Training batch, in 1...4096.") var batch = 128
    @Option(help: "Forward-only batch, in 1...4096.") var forwardBatch = 256
    @Option(help: "Timed iterations after one warm-up, in 1...1000.") var iterations = 3
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Print every iteration.") var verbose = false
    @Flag(help: "Print where the time goes: seconds per kind of layer work in a forward pass and a train step.")
    var profile = false
    @Option(help: "Also write the figures as JSON to this file.") var json: String?
    @OptionGroup var convolution: ConvolutionOptions
    @Flag(help: LowMemoryFlag.help) var lowMemory = false

    func validate() throws {
        // Before the timed runs, not after them.
        if let json { try FileBytes.checkWritable(json) }
        _ = try ModelBenchmarkReport.cost(of: preset)
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(forwardBatch, "--forward-batch", 1...4096)
        try OptionCheck.integer(iterations, "--iterations", 1...1000)
    }

    func run() throws {
        let threads = threads.configureSingleProcess()
        let report = try ModelBenchmarkReport.measure(
            preset: preset, convolutions: convolution.resolve(for: preset.benchmarkConfig, .training), threads: threads, forwardBatch: forwardBatch,
            trainBatch: batch, iterations: iterations, profile: profile, verbose: verbose, lowMemory: lowMemory,
            log: { print($0) })
        print(report.summary)
        if let json { try writeJSON(report, to: json) }
    }
}
