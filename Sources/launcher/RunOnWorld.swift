import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// Runs a subcommand's work on every rank with the world communicator, then finalizes MPI.
///
/// First of all, every rank checks that it was started with the same options as rank 0
/// (`fields`, usually `command.agreedFields(...)`): a mismatch is an error on every rank,
/// never a hang in a collective that only some ranks enter.
///
/// An error that every rank throws together (`CollectiveFailure`: they learnt it through a
/// collective) is printed by each and ends the job cleanly with a failure status. Any other
/// error on any rank ends the whole job (MPI_Abort), since the other ranks would wait forever
/// in their next collective. `ExitCode` is not an error here: every rank must throw it
/// together, and it finalizes before leaving.
func runOnWorld(agreeing fields: [RankAgreement.Field], _ body: (Communicator) throws -> Void) throws {
    let comm = try Communicator.world()
    // Notes about files loaded on every rank (safetensors without content hashes) once a job.
    SafetensorsHashes.notesEnabled = comm.isRoot
    do {
        try RankAgreement.check(fields, group: comm)
        try body(comm)
    } catch let exit as ExitCode {
        try comm.finalize()
        throw exit
    } catch let failure as CollectiveFailure {
        fflush(nil)
        StandardError.write("error: \(failure) (rank \(comm.rank) of \(comm.size))\n")
        try comm.finalize()
        throw ExitCode.failure
    } catch {
        comm.abort("\(error)")
    }
    try comm.finalize()
}

extension Communicator {
    /// Rank 0's string on every rank.
    func broadcastString(_ s: String) throws -> String {
        var v = s
        try broadcast(&v)
        return v
    }
}
