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
        var world: Communicator?
        var failed = 0
        try runOnWorld { comm in
            world = comm
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
            failed = checks.failed
        }
        guard let comm = world, abortOnRank == nil else { return }
        // Checked by every rank alone, since MPI is gone; a failing rank exits non-zero.
        let problem = CommunicatorChecks.afterFinalize(comm)
        if comm.isRoot { print(problem.map { "FAIL finalize \($0)" } ?? "ok finalize") }
        if failed > 0 || problem != nil { throw ExitCode(1) }
    }
}
