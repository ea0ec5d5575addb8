import ArgumentParser
import Diffusion
import Distributed

/// What `bench train` and `bench sample` share: the model, the threads, a JSON copy.
struct BenchRunOptions: ParsableArguments {
    @Option(help: "Model preset.") var preset: ModelPreset = .small
    @OptionGroup var threads: ThreadsOption
    @Option(help: "Also write the result as JSON to this file.") var json: String?
    @OptionGroup var convolution: ConvolutionOptions

    /// Runs `measure` on every rank of the world (once all agree on `fields`) with this rank's
    /// threads and the convolutions chosen alike on every rank; rank 0 prints the result's
    /// `summary` and writes its JSON.
    func runOnEveryRank<Result: Encodable>(agreeing fields: [RankAgreement.Field], purpose: PrecisionChoice.Purpose,
                                           summary: (Result) -> String,
                                           _ measure: (_ comm: Communicator, _ threads: Int, ConvolutionBackend) throws -> Result)
        throws {
        try runOnWorld(agreeing: fields) { comm in
            let threads = try threads.configure(comm)
            let result = try measure(comm, threads, try convolution.resolve(for: preset.benchmarkConfig, purpose,
                                                                                report: comm.isRoot, agreeingOn: comm))
            guard comm.isRoot else { return }
            print(summary(result))
            if let json { try writeJSON(result, to: json) }
        }
    }
}
