import ArgumentParser
import Distributed

/// Hidden: runs `CommunicatorChecks` on every rank; the tests launch it under mpirun.
struct CheckCommunicatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-communicator",
        abstract: "Exercise every Communicator operation across the ranks and print ok/FAIL per check.",
        shouldDisplay: false)

    @Option(help: "Elements per MPI call, lowered to exercise the splitting of long buffers.")
    var maxChunk: Int?

    @Option(help: "Instead of the checks, make this rank call abort while the others wait in a barrier.")
    var abortOnRank: Int?

    func run() throws {
        try runOnWorld { comm in
            if let maxChunk { Communicator.maxElementsPerCall = maxChunk }
            if let abortOnRank {
                try comm.barrier()
                if comm.rank == abortOnRank {
                    comm.abort("check-communicator: abort requested on rank \(abortOnRank)", code: 3)
                }
                try comm.barrier()
                return
            }
            var checks = CommunicatorChecks(comm: comm)
            try checks.runAll()
            if checks.failed > 0 { throw ExitCode(1) }
        }
    }
}
