import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// Synthetic training images in [-0.5, 0.5]: benchmarks measure compute, not data loading.
func syntheticImages(count: Int, size: Int) -> Tensor {
    let t = Tensor(shape: [count, size, size, 1])
    var rng = RandomStream(seed: 7, key: 7)
    for i in 0..<t.count { t[i] = Float(rng.uniform() - 0.5) }
    return t
}

/// A freshly initialised model of a preset, on 32x32 images: what the benchmarks time.
func benchmarkModel(preset: ModelPreset, convolutions: ConvolutionBackend) -> UNet2DModel {
    var config = preset.config
    config.sampleSize = Preprocess.imageSize
    let model = UNet2DModel(config: config)
    model.context.convolutions = convolutions
    model.initializeParameters(seed: 0)
    return model
}

/// What `bench train` and `bench sample` share: the model, the threads, a JSON copy.
struct BenchRunOptions: ParsableArguments {
    @Option(help: "Model preset.") var preset: ModelPreset = .small
    @OptionGroup var threads: ThreadsOption
    @Option(help: "Also write the result as JSON to this file.") var json: String?
    @OptionGroup var convolution: ConvolutionOptions
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Data-parallel training throughput (images/s) and the share of each step spent in allreduce.",
        discussion: "Run under mpirun to compare rank counts, e.g. mpirun -np 2 --bind-to none launcher bench train --preset small")

    @OptionGroup var common: BenchRunOptions
    @Option(help: "Global batch, in 1...4096.") var batch = 128
    @Option(help: "Timed steps after one warm-up step, in 1...1000.") var steps = 4
    @Flag(help: "Allreduce all gradients after backward instead of overlapping buckets with it.") var noOverlap = false
    @OptionGroup var bucket: BucketOption

    func validate() throws {
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(steps, "--steps", 1...1000)
    }

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "bench train")) { comm in
            let threads = try common.threads.configure(comm)
            let preset = common.preset
            let model = benchmarkModel(preset: preset, convolutions: common.convolution.resolve(report: comm.isRoot))
            let bucketFloats = bucket.floats
            var options = TrainingOptions()
            options.batchSize = batch
            options.epochs = 1
            let trainer = Trainer(model: model, images: syntheticImages(count: batch * (steps + 1), size: 32),
                                  options: options, group: comm)
            trainer.separateWaitFromAllreduce = true
            trainer.overlapAllreduce = !noOverlap
            trainer.bucketSize = bucketFloats
            var reports: [Trainer.StepReport] = []
            for i in 0...steps {
                let r = try trainer.trainStep()
                if i > 0 { reports.append(r) }
            }
            // The slowest rank sets the pace: take each step's maximum over ranks.
            var seconds = reports.map(\.seconds), allreduce = reports.map(\.allreduceSeconds), wait = reports.map(\.waitSeconds)
            try comm.allreduce(&seconds, op: .max)
            try comm.allreduce(&allreduce, op: .max)
            try comm.allreduce(&wait, op: .max)
            guard comm.isRoot else { return }
            let step = ModelBenchmark.median(seconds), ar = ModelBenchmark.median(allreduce), waited = ModelBenchmark.median(wait)
            let result = TrainBenchResult(preset: preset.rawValue, ranks: comm.size, threadsPerRank: threads, globalBatch: batch,
                                          stepSeconds: step, imagesPerSecond: Double(batch) / step,
                                          allreduceSeconds: ar, allreduceShare: ar / step, imbalanceWaitSeconds: waited,
                                          gradientMegabytes: Double(model.store.count * 4) / 1e6,
                                          overlap: !noOverlap, bucketFloats: bucketFloats)
            print(String(format: "preset %@, %d rank(s) x %d thread(s), global batch %d: %.1f img/s (step %.3f s), allreduce left after backward %.1f ms = %.1f%% of the step (%.1f MB of gradients in %d-float buckets, %@), waiting for the slowest rank %.1f ms",
                         preset.rawValue, comm.size, threads, batch, result.imagesPerSecond, step, ar * 1000, 100 * result.allreduceShare,
                         result.gradientMegabytes, bucketFloats, noOverlap ? "not overlapped" : "overlapped with backward", waited * 1000))
            if let json = common.json { try writeJSON(result, to: json) }
        }
    }
}

struct BenchSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sampling throughput: model evaluations/s and images/s end to end (random weights).",
        discussion: "Run under mpirun to compare rank counts, e.g. mpirun -np 2 --bind-to none launcher bench sample --preset small")

    @OptionGroup var common: BenchRunOptions
    @Option(help: "Images, in 1...100000.") var n = 256
    @Option(help: "DDIM steps (one model evaluation each), in 1...1000.") var steps = 10

    func validate() throws {
        try OptionCheck.integer(n, "--n", 1...100_000)
        try OptionCheck.integer(steps, "--steps", 1...1000)
    }

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "bench sample")) { comm in
            let threads = try common.threads.configure(comm)
            let preset = common.preset
            let model = benchmarkModel(preset: preset, convolutions: common.convolution.resolve(report: comm.isRoot))
            let spec = try SamplerSpec.parse(.ddim, steps: steps)
            try comm.barrier()
            let t0 = Communicator.wtime()
            let result = try ShardedSampling.generate(model: model, spec: spec, schedule: .recipe, count: n, seed: 0, group: comm)
            let seconds = Communicator.wtime() - t0
            guard comm.isRoot else { return }
            let r = SampleBenchResult(preset: preset.rawValue, ranks: comm.size, threadsPerRank: threads, images: n,
                                      modelEvaluations: result.modelEvaluations, seconds: seconds,
                                      evaluationsPerSecond: Double(result.modelEvaluations) / seconds,
                                      imagesPerSecond: Double(n) / seconds,
                                      forwardImagesPerSecond: Double(n * result.modelEvaluations) / seconds)
            print(String(format: "preset %@, %d rank(s) x %d thread(s): %d images x %d evaluations in %.2f s: %.2f evaluations/s, %.2f img/s end to end, %.1f img/s through the model",
                         preset.rawValue, comm.size, threads, n, r.modelEvaluations, seconds, r.evaluationsPerSecond, r.imagesPerSecond, r.forwardImagesPerSecond))
            if let json = common.json { try writeJSON(r, to: json) }
        }
    }
}

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileBytes.writeAtomically(Array(try e.encode(value)), to: path)
}
