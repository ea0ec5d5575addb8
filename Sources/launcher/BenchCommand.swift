import ArgumentParser
import Diffusion
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the model alone, training, sampling, allreduce, kernels; predict scaling.",
        subcommands: [BenchModel.self, BenchConv.self, BenchTrain.self, BenchSample.self, BenchAllreduce.self, BenchKernels.self,
                      BenchModelScaling.self, BenchScalingReport.self])
}

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "U-Net forward (no grad) and train step (forward, MSE, backward, Adam) images/s, GFLOPS and peak RSS.")

    @Option(help: "Model preset (seed or small: the presets with a FLOP count).") var preset: ModelPreset = .seed
    @Option(help: "Training batch, in 1...4096.") var batch = 128
    @Option(help: "Forward-only batch, in 1...4096.") var forwardBatch = 256
    @Option(help: "Timed iterations after one warm-up, in 1...1000.") var iterations = 3
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Print every iteration.") var verbose = false
    @OptionGroup var convolution: ConvolutionOptions

    func validate() throws {
        guard preset.referenceCost != nil else {
            throw ValidationError("--preset \(preset.rawValue): no FLOP count; expected "
                                  + ModelPreset.measured.map(\.rawValue).joined(separator: " or "))
        }
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(forwardBatch, "--forward-batch", 1...4096)
        try OptionCheck.integer(iterations, "--iterations", 1...1000)
    }

    func run() throws {
        guard let ref = preset.referenceCost else { return }  // checked in validate()
        let threads = threads.configureSingleProcess()
        let model = try benchmarkModel(preset: preset, convolutions: convolution.resolve())
        print("preset \(preset.rawValue): \(model.store.count) parameters, \(threads) threads, convolutions \(model.context.convolutions)")
        let r = try ModelBenchmark.run(model: model, forwardBatch: forwardBatch, trainBatch: batch, iterations: iterations,
                                   log: { if verbose { print($0) } })
        let f = r.forwardImagesPerSecond, t = r.trainImagesPerSecond
        // No ratio to PyTorch here: a ratio means something only when both run on the same
        // machine in the same session (docs/speed.md says how that was measured).
        print(String(format: "forward  batch %4d: %7.1f img/s  %6.1f GFLOPS", forwardBatch, f, f * ref.forwardGFLOP))
        print(String(format: "train    batch %4d: %7.1f img/s  %6.1f GFLOPS", batch, t, t * ref.trainGFLOP))
        // Work per image in CPU time, and the rate it gives when the threads have their cores
        // to themselves: on a shared machine wall time also counts other processes' load.
        let cf = r.forwardCPUMillisecondsPerImage, ct = r.trainCPUMillisecondsPerImage
        let ideal = Double(threads) * 1000
        print(String(format: "CPU time per image: forward %.2f ms, train %.2f ms -> %.1f / %.1f img/s on %d idle cores",
                     cf, ct, ideal / cf, ideal / ct, threads))
        if let rss = ResourceUsage.peakRSSMiB() { print(String(format: "peak RSS: %.0f MiB", rss)) }
    }
}
