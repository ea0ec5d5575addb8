import ArgumentParser
import Diffusion
import Distributed

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
    @Flag(help: "Train under train's stall check (docs/faults.md), to see what it costs.") var stallCheck = false

    func validate() throws {
        try OptionCheck.integer(batch, "--batch", 1...4096)
        try OptionCheck.integer(steps, "--steps", 1...1000)
    }

    func run() throws {
        try common.runOnEveryRank(agreeing: agreedFields(command: "bench train"), purpose: .training, summary: \.summary) { comm, threads, convolutions in
            if stallCheck { try comm.watchStalls(StallPolicy(warningSeconds: 60, timeoutSeconds: nil)) }
            return try TrainBenchmark.run(preset: common.preset, convolutions: convolutions, batch: batch, steps: steps,
                                   overlap: !noOverlap, bucketFloats: bucket.bucketFloats, threadsPerRank: threads, group: comm)
        }
    }
}
