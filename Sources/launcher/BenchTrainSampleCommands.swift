import ArgumentParser
import Diffusion
import Distributed
import Foundation

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
            let result = try TrainBenchmark.run(preset: common.preset, convolutions: try common.convolution.resolve(report: comm.isRoot, agreeingOn: comm),
                                                batch: batch, steps: steps, overlap: !noOverlap,
                                                bucketFloats: bucket.bucketFloats, threadsPerRank: threads, group: comm)
            guard comm.isRoot else { return }
            print(result.summary)
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
            let result = try SampleBenchmark.run(preset: common.preset, convolutions: try common.convolution.resolve(report: comm.isRoot, agreeingOn: comm),
                                                 images: n, steps: steps, threadsPerRank: threads,
                                                 group: comm)
            guard comm.isRoot else { return }
            print(result.summary)
            if let json = common.json { try writeJSON(result, to: json) }
        }
    }
}

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileBytes.writeAtomically(Array(try e.encode(value)), to: path)
}
