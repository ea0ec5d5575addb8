import ArgumentParser
import Diffusion

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
        try common.runOnEveryRank(agreeing: agreedFields(command: "bench sample"), purpose: .sampling, summary: \.summary) { comm, threads, convolutions in
            try SampleBenchmark.run(preset: common.preset, convolutions: convolutions, images: n, steps: steps,
                                    threadsPerRank: threads, group: comm)
        }
    }
}
