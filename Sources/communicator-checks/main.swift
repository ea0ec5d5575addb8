import Distributed
import Foundation

// A test harness, not part of the product: the end-to-end tests start it under mpirun to run
// every Communicator operation across real ranks (`CommunicatorChecks`).
//
//   communicator-checks [--max-chunk N]   the checks; rank 0 prints ok/FAIL per check
//   communicator-checks --abort-on-rank R  rank R calls abort while the others wait in a barrier
//   communicator-checks --stall-watch S    the checks with the stall check on (warning after S s):
//                                          barriers, broadcasts and allreduces go nonblocking

func fail(_ message: String) -> Never {
    try? FileHandle.standardError.write(contentsOf: Data("communicator-checks: \(message)\n".utf8))
    exit(2)
}

var maxChunk: Int?
var abortOnRank: Int?
var stallWatch: Int?
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let text = arguments.popFirst(), let value = Int(text), value >= 0 else {
        fail("\(flag) needs a non-negative integer")
    }
    switch flag {
    case "--max-chunk" where value >= 1: maxChunk = value
    case "--abort-on-rank": abortOnRank = value
    case "--stall-watch" where value >= 1: stallWatch = value
    default: fail("unknown option \(flag) \(value); expected --max-chunk N (N >= 1), --abort-on-rank R or --stall-watch S (S >= 1)")
    }
}

let comm: Communicator
do { comm = try Communicator.world() } catch { fail("\(error)") }
if let maxChunk { Communicator.maxElementsPerCall = maxChunk }
var failed = 0
do {
    if let stallWatch { try comm.watchStalls(StallPolicy(warningSeconds: Double(stallWatch), timeoutSeconds: nil)) }
    if let abortOnRank {
        try comm.barrier()
        if comm.rank == abortOnRank {
            comm.abort("communicator-checks: abort requested on rank \(abortOnRank)", code: 3)
        }
        try comm.barrier()
        try comm.finalize()
        exit(0)
    }
    var checks = CommunicatorChecks(comm: comm)
    try checks.runAll()
    failed = checks.failed
    try comm.finalize()
} catch {
    comm.abort("\(error)")
}
// Checked by every rank alone, since MPI is gone; a failing rank exits non-zero.
let problem = CommunicatorChecks.afterFinalize(comm)
if comm.isRoot { print(problem.map { "FAIL finalize \($0)" } ?? "ok finalize") }
exit(failed > 0 || problem != nil ? 1 : 0)
