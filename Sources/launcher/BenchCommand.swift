import ArgumentParser
import Diffusion
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the model alone, training, sampling, allreduce; predict scaling.",
        subcommands: [BenchModel.self, BenchTrain.self, BenchSample.self, BenchAllreduce.self,
                      BenchModelScaling.self, BenchScalingReport.self])
}

/// FLOPs per 32x32 image, as counted in shared/reference/pytorch-cpu.md (convolutions,
/// linears and attention matmuls), and PyTorch's figures on this machine from the same file.
struct ReferenceCost {
    let forwardGFLOP: Double, trainGFLOP: Double
    let torchTrainImagesPerSecond: Double, torchForwardImagesPerSecond: Double
    static let byPreset: [String: ReferenceCost] = [
        "seed": ReferenceCost(forwardGFLOP: 1.5864, trainGFLOP: 4.8065, torchTrainImagesPerSecond: 21.3, torchForwardImagesPerSecond: 53.7),
        "small": ReferenceCost(forwardGFLOP: 0.4209, trainGFLOP: 1.2863, torchTrainImagesPerSecond: 54.8, torchForwardImagesPerSecond: 135),
    ]
}

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "U-Net forward (no grad) and train step (forward, MSE, backward, Adam) images/s, GFLOPS and peak RSS.")

    @Option(help: "Model preset: seed or small.") var preset = "seed"
    @Option(help: "Training batch.") var batch = 128
    @Option(help: "Forward-only batch.") var forwardBatch = 256
    @Option(help: "Timed iterations after one warm-up.") var iterations = 3
    @Option(help: "Kernel threads (default: all cores).") var threads: Int?
    @Flag(help: "Print every iteration.") var verbose = false

    func run() throws {
        guard let ref = ReferenceCost.byPreset[preset] else {
            throw ValidationError("unknown preset '\(preset)': expected seed or small (PyTorch was measured on those)")
        }
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        BLAS.configure(threads: threads)
        let model = try benchmarkModel(preset: preset)
        print("preset \(preset): \(model.store.count) parameters, \(threads) threads")
        let r = try ModelBenchmark.run(model: model, forwardBatch: forwardBatch, trainBatch: batch, iterations: iterations,
                                   log: { if verbose { print($0) } })
        let f = r.forwardImagesPerSecond, t = r.trainImagesPerSecond
        print(String(format: "forward  batch %4d: %7.1f img/s  %6.1f GFLOPS  (PyTorch %.1f img/s, x%.2f)",
                     forwardBatch, f, f * ref.forwardGFLOP, ref.torchForwardImagesPerSecond, f / ref.torchForwardImagesPerSecond))
        print(String(format: "train    batch %4d: %7.1f img/s  %6.1f GFLOPS  (PyTorch %.1f img/s, x%.2f)",
                     batch, t, t * ref.trainGFLOP, ref.torchTrainImagesPerSecond, t / ref.torchTrainImagesPerSecond))
        // Work per image in CPU time, and the rate it gives when the threads have their cores
        // to themselves: on a shared machine wall time also counts other processes' load.
        let cf = r.forwardCPUMillisecondsPerImage, ct = r.trainCPUMillisecondsPerImage
        let ideal = Double(threads) * 1000
        print(String(format: "CPU time per image: forward %.2f ms, train %.2f ms -> %.1f / %.1f img/s on %d idle cores (x%.2f / x%.2f PyTorch)",
                     cf, ct, ideal / cf, ideal / ct, threads,
                     ideal / cf / ref.torchForwardImagesPerSecond, ideal / ct / ref.torchTrainImagesPerSecond))
        if let rss = ResourceUsage.peakRSSMiB() { print(String(format: "peak RSS: %.0f MiB", rss)) }
    }
}
