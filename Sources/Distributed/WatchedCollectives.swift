internal import CMPI

// The stall check on the communicator's side: once `watchStalls` is on, every barrier,
// broadcast, allreduce and in-place nonblocking allreduce runs as a nonblocking operation
// that `StallWatch` waits for (gathers and reduces stay blocking and unwatched).
// Broadcasts and barriers move the same bytes either way; an allreduce of floating-point
// sums over three or more ranks may add in another order than the blocking call did, as
// the gradient buckets (nonblocking from the start) always have.

extension Communicator {
    /// Turns the stall check on for every later collective. Collective: every rank must call
    /// it at the same point (it duplicates the world communicator for the arrival notices).
    /// A job of one rank has nothing to wait for, and is left as it is.
    public func watchStalls(_ policy: StallPolicy) throws {
        guard size > 1, stallWatch == nil else { return }
        if Communicator.runningRank == nil { throw MPIError(call: "watchStalls", code: MPI_ERR_OTHER, detail: "MPI is not running") }
        stallWatch = try StallWatch(policy: policy, comm: comm, rank: rank, size: size)
    }

    /// Where this rank is, for stall messages about the collectives it starts next:
    /// `step` (nil outside a step) and what the collective is ("gradient bucket 2 of 5").
    public func setStallContext(step: Int?, part: String) {
        stallWatch?.current = StallWatch.Activity(step: step, part: part)
    }

    /// Runs a watched collective: `start` begins the nonblocking calls, appending each
    /// request; then waits for all of them, under the stall check.
    func watched(_ name: String, start: (inout [MPI_Request?]) throws -> Void) throws {
        guard let watch = stallWatch else { preconditionFailure("watched(\(name)) without a stall watch") }
        if Communicator.runningRank == nil { throw MPIError(call: name, code: MPI_ERR_OTHER, detail: "MPI was already finalized") }
        let sequence = try watch.arrive()
        var requests: [MPI_Request?] = []
        do { try start(&requests) } catch {
            if !requests.isEmpty { _ = MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore()) }
            throw error
        }
        try watch.wait(&requests, sequence: sequence, name: name)
    }
}
