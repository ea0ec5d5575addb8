import ArgumentParser
import Distributed

/// Runs a subcommand's work on every rank with the world communicator, then finalizes MPI.
///
/// An error on any rank ends the whole job (MPI_Abort), since the other ranks would wait
/// forever in their next collective. `ExitCode` is not an error here: every rank must throw
/// it together, and it finalizes before leaving.
func runOnWorld(_ body: (Communicator) throws -> Void) throws {
    let comm = try Communicator.world()
    do {
        try body(comm)
    } catch let exit as ExitCode {
        try comm.finalize()
        throw exit
    } catch {
        comm.abort("\(error)")
    }
    try comm.finalize()
}
