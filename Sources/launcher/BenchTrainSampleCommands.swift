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
func benchmarkModel(preset: String) throws -> UNet2DModel {
    guard var config = UNetConfig.preset(preset) else {
        throw ValidationError("unknown preset '\(preset)': expected seed, small or tiny")
    }
    config.sampleSize = Preprocess.imageSize
    let model = try UNet2DModel(config: config)
    model.initializeParameters(seed: 0)
    return model
}

/// What `bench train` and `bench sample` share: the model, the threads, a JSON copy.
struct BenchRunOptions: ParsableArguments {
    @Option(help: "Model preset: seed, small or tiny.") var preset = "small"
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host).") var threads: Int?
    @Option(help: "Also write the result as JSON to this file.") var json: String?
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Data-parallel training throughput (images/s) and the share of each step spent in allreduce.",
        discussion: "Run under mpirun to compare rank counts, e.g. mpirun -np 2 --bind-to none launcher bench train --preset small")

    @OptionGroup var common: BenchRunOptions
    @Option(help: "Global batch.") var batch = 128
    @Option(help: "Timed steps after one warm-up step.") var steps = 4
    @Flag(help: "Allreduce all gradients after backward instead of overlapping buckets with it.") var noOverlap = false
    @Option(help: "Floats per gradient bucket (the trainer's default: 4 MiB).") var bucket = Trainer.defaultBucketSize

    func validate() throws {
        guard bucket >= 1 else { throw ValidationError("--bucket must be at least 1, got \(bucket)") }
    }

    func run() throws {
        try runOnWorld { comm in
            let threads = try comm.configureThreads(requested: common.threads)
            let preset = common.preset
            let model = try benchmarkModel(preset: preset)
            var options = TrainingOptions()
            options.batchSize = batch
            options.epochs = 1
            let trainer = try Trainer(model: model, images: syntheticImages(count: batch * (steps + 1), size: 32),
                                  options: options, group: comm)
            trainer.separateWaitFromAllreduce = true
            trainer.overlapAllreduce = !noOverlap
            trainer.bucketSize = bucket
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
            let result = TrainBenchResult(preset: preset, ranks: comm.size, threadsPerRank: threads, globalBatch: batch,
                                          stepSeconds: step, imagesPerSecond: Double(batch) / step,
                                          allreduceSeconds: ar, allreduceShare: ar / step, imbalanceWaitSeconds: waited,
                                          gradientMegabytes: Double(model.store.count * 4) / 1e6,
                                          overlap: !noOverlap, bucketFloats: bucket)
            print(String(format: "preset %@, %d rank(s) x %d thread(s), global batch %d: %.1f img/s (step %.3f s), allreduce left after backward %.1f ms = %.1f%% of the step (%.1f MB of gradients in %d-float buckets, %@), waiting for the slowest rank %.1f ms",
                         preset, comm.size, threads, batch, result.imagesPerSecond, step, ar * 1000, 100 * result.allreduceShare,
                         result.gradientMegabytes, bucket, noOverlap ? "not overlapped" : "overlapped with backward", waited * 1000))
            if let json = common.json { try writeJSON(result, to: json) }
        }
    }
}

struct TrainBenchResult: Codable {
    let preset: String, ranks: Int, threadsPerRank: Int, globalBatch: Int
    let stepSeconds: Double, imagesPerSecond: Double, allreduceSeconds: Double, allreduceShare: Double
    /// Time at the barrier before the allreduce: waiting for the slowest rank.
    let imbalanceWaitSeconds: Double
    let gradientMegabytes: Double
    /// Buckets overlapped with backward (false: all summed after it), and floats per bucket;
    /// nil in files from before these were recorded (not overlapped, 4Mi floats).
    let overlap: Bool?, bucketFloats: Int?
}

struct BenchSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sampling throughput: model evaluations/s and images/s end to end (random weights).",
        discussion: "Run under mpirun to compare rank counts, e.g. mpirun -np 2 --bind-to none launcher bench sample --preset small")

    @OptionGroup var common: BenchRunOptions
    @Option(help: "Images.") var n = 256
    @Option(help: "DDIM steps (one model evaluation each).") var steps = 10

    func run() throws {
        try runOnWorld { comm in
            let threads = try comm.configureThreads(requested: common.threads)
            let preset = common.preset
            let model = try benchmarkModel(preset: preset)
            let spec = try SamplerSpec.parse("ddim", steps: steps)
            try comm.barrier()
            let t0 = Communicator.wtime()
            let result = try ShardedSampling.generate(model: model, spec: spec, schedule: .recipe, count: n, seed: 0, group: comm)
            let seconds = Communicator.wtime() - t0
            guard comm.isRoot else { return }
            let r = SampleBenchResult(preset: preset, ranks: comm.size, threadsPerRank: threads, images: n,
                                      modelEvaluations: result.modelEvaluations, seconds: seconds,
                                      evaluationsPerSecond: Double(result.modelEvaluations) / seconds,
                                      imagesPerSecond: Double(n) / seconds,
                                      forwardImagesPerSecond: Double(n * result.modelEvaluations) / seconds)
            print(String(format: "preset %@, %d rank(s) x %d thread(s): %d images x %d evaluations in %.2f s: %.2f evaluations/s, %.2f img/s end to end, %.1f img/s through the model",
                         preset, comm.size, threads, n, r.modelEvaluations, seconds, r.evaluationsPerSecond, r.imagesPerSecond, r.forwardImagesPerSecond))
            if let json = common.json { try writeJSON(r, to: json) }
        }
    }
}

struct SampleBenchResult: Codable {
    let preset: String, ranks: Int, threadsPerRank: Int, images: Int, modelEvaluations: Int
    let seconds: Double, evaluationsPerSecond: Double, imagesPerSecond: Double, forwardImagesPerSecond: Double
}

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileBytes.writeAtomically(Array(try e.encode(value)), to: path)
}
