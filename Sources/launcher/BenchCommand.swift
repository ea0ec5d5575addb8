import ArgumentParser
import Diffusion
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the model alone, training, sampling, allreduce, kernels; predict scaling.",
        subcommands: [BenchModel.self, BenchConv.self, BenchPeak.self, BenchTrain.self, BenchSample.self, BenchAllreduce.self, BenchKernels.self,
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
    @Flag(help: "Print where the time goes: seconds per kind of layer work in a forward pass and a train step.")
    var profile = false
    @Option(help: "Also write the figures as JSON to this file.") var json: String?
    @OptionGroup var convolution: ConvolutionOptions

    func validate() throws {
        // Before the timed runs, not after them.
        if let json { try FileBytes.checkWritable(json) }
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
        let backend = model.context.convolutions
        print("preset \(preset.rawValue): \(model.store.count) parameters, \(threads) threads, convolutions \(backend)")
        // The ceiling, measured now: a share of a peak from another day would mean nothing.
        let fp32Peak = ArithmeticPeak.measure(.fma512, threads: threads) ?? ArithmeticPeak.measure(.fma256, threads: threads)
        let bf16Peak = ArithmeticPeak.measure(.dpbf16, threads: threads)
        let r = try ModelBenchmark.run(model: model, forwardBatch: forwardBatch, trainBatch: batch, iterations: iterations,
                                       profile: profile, log: { if verbose { print($0) } })
        let f = r.forwardImagesPerSecond, t = r.trainImagesPerSecond
        func share(_ gflops: Double) -> String {
            var parts: [String] = []
            if let fp32Peak { parts.append(String(format: "%4.0f%% of fp32 peak", 100 * gflops / fp32Peak)) }
            if let bf16Peak { parts.append(String(format: "%4.0f%% of bf16 peak", 100 * gflops / bf16Peak)) }
            return parts.joined(separator: ", ")
        }
        // No ratio to PyTorch here: a ratio means something only when both run on the same
        // machine in the same run (scripts/bench-pytorch does that).
        print(String(format: "forward  batch %4d: %7.1f img/s  %6.1f GFLOPS  ", forwardBatch, f, f * ref.forwardGFLOP) + share(f * ref.forwardGFLOP))
        print(String(format: "train    batch %4d: %7.1f img/s  %6.1f GFLOPS  ", batch, t, t * ref.trainGFLOP) + share(t * ref.trainGFLOP))
        print("peak measured just before: " + [fp32Peak.map { String(format: "fp32 %.0f GFLOPS", $0) },
                                               bf16Peak.map { String(format: "bf16 %.0f GFLOPS", $0) }]
            .compactMap { $0 }.joined(separator: ", ") + " (launcher bench peak)")
        // Work per image in CPU time, and the rate it gives when the threads have their cores
        // to themselves: on a shared machine wall time also counts other processes' load.
        let cf = r.forwardCPUMillisecondsPerImage, ct = r.trainCPUMillisecondsPerImage
        let ideal = Double(threads) * 1000
        print(String(format: "CPU time per image: forward %.2f ms, train %.2f ms -> %.1f / %.1f img/s on %d idle cores",
                     cf, ct, ideal / cf, ideal / ct, threads))
        let rss = ResourceUsage.peakRSSMiB()
        if let rss { print(String(format: "peak RSS: %.0f MiB", rss)) }
        if profile {
            printProfile("forward, batch \(forwardBatch)", r.forwardProfile)
            printProfile("train step, batch \(batch)", r.trainProfile)
        }
        if let json {
            try writeJSON(ModelBenchmarkReport(
                preset: preset.rawValue, parameters: model.store.count, threads: threads, backend: backend.description,
                forwardBatch: forwardBatch, trainBatch: batch, iterations: iterations,
                forwardImagesPerSecond: f, trainImagesPerSecond: t,
                forwardGFLOPS: f * ref.forwardGFLOP, trainGFLOPS: t * ref.trainGFLOP,
                fp32PeakGFLOPS: fp32Peak, bf16PeakGFLOPS: bf16Peak, peakRSSMiB: rss,
                forwardProfileMilliseconds: r.forwardProfile.map { .init(label: $0.label, milliseconds: 1000 * $0.seconds, cpuMilliseconds: 1000 * $0.cpuSeconds) },
                trainProfileMilliseconds: r.trainProfile.map { .init(label: $0.label, milliseconds: 1000 * $0.seconds, cpuMilliseconds: 1000 * $0.cpuSeconds) }), to: json)
        }
    }

    /// Wall time per label, its share, and the cores it kept busy (CPU time / wall time; the
    /// thread count when the work is spread perfectly, 1 when it runs serially).
    private func printProfile(_ title: String, _ rows: [StepProfile.Entry]) {
        let total = rows.reduce(0) { $0 + $1.seconds }, cpu = rows.reduce(0) { $0 + $1.cpuSeconds }
        print("\(title): \(String(format: "%.3f s, %.2f cores busy", total, cpu / max(total, 1e-9)))")
        for row in rows.sorted(by: { $0.seconds > $1.seconds }) {
            let label = row.label.padding(toLength: 20, withPad: " ", startingAt: 0)
            print("  \(label)" + String(format: " %8.1f ms  %5.1f%%  %4.2f cores", 1000 * row.seconds, 100 * row.seconds / total,
                                            row.cpuSeconds / max(row.seconds, 1e-9)))
        }
    }
}

/// `bench model --json`: one run's figures (scripts/bench-pytorch reads them).
struct ModelBenchmarkReport: Encodable {
    struct ProfileRow: Encodable { let label: String; let milliseconds, cpuMilliseconds: Double }
    let preset: String
    let parameters, threads: Int
    let backend: String
    let forwardBatch, trainBatch, iterations: Int
    let forwardImagesPerSecond, trainImagesPerSecond, forwardGFLOPS, trainGFLOPS: Double
    let fp32PeakGFLOPS, bf16PeakGFLOPS, peakRSSMiB: Double?
    let forwardProfileMilliseconds, trainProfileMilliseconds: [ProfileRow]
}
