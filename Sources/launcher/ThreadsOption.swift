import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// --threads, the same for every command: kernel threads per rank.
struct ThreadsOption: ParsableArguments, PerRankOptions {
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host; all cores for one process).")
    var threads: Int?

    func validate() throws {
        if let threads { try OptionCheck.integer(threads, "--threads", 1...4096) }
    }

    /// Threads for this rank of `comm`; also keeps OpenBLAS single-threaded (our kernels do
    /// the threading). Collective.
    func configure(_ comm: Communicator) throws -> Int {
        try comm.configureThreads(requested: threads)
    }

    /// Threads for a command that runs as one process, without MPI: all cores by default.
    func configureSingleProcess() -> Int {
        let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
        BLAS.configure(threads: n)
        return n
    }
}
