internal import CMPI

/// A collective started by a nonblocking call. Its buffer must stay alive and untouched until
/// `wait()` returns.
public final class PendingRequest {
    private var requests: [MPI_Request?]
    private let name: String
    /// With the stall check on: the watch and this operation's number in it.
    private let watch: (StallWatch, sequence: Int64)?

    init(requests: [MPI_Request?], name: String, watch: (StallWatch, sequence: Int64)? = nil) {
        self.requests = requests
        self.name = name
        self.watch = watch
    }

    /// Blocks until the operation is complete (under the stall check when it is on). Later
    /// calls return at once.
    public func wait() throws {
        guard !requests.isEmpty else { return }
        if let (stallWatch, sequence) = watch {
            defer { requests = [] }
            return try stallWatch.wait(&requests, sequence: sequence, name: name)
        }
        let code = requests.withUnsafeMutableBufferPointer {
            MPI_Waitall(Int32($0.count), $0.baseAddress, cmpi_statuses_ignore())
        }
        requests = []
        try check(code, "MPI_Waitall (\(name))")
    }

    /// Lets MPI advance the operation without blocking (Open MPI moves nonblocking collectives
    /// on only inside MPI calls); true once it is complete.
    @discardableResult
    public func test() throws -> Bool {
        guard !requests.isEmpty else { return true }
        var done: Int32 = 0
        let code = requests.withUnsafeMutableBufferPointer {
            MPI_Testall(Int32($0.count), $0.baseAddress, &done, cmpi_statuses_ignore())
        }
        try check(code, "MPI_Testall (\(name))")
        if done != 0 { requests = [] }
        return done != 0
    }

    /// A request dropped without `wait()` is completed here, so MPI never writes into the
    /// buffer later; errors can no longer be reported at this point.
    deinit {
        if !requests.isEmpty {
            _ = MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore())
        }
    }
}

extension Communicator {
    /// Starts an in-place allreduce (MPI_Iallreduce with MPI_IN_PLACE) and returns at once, so
    /// gradients of one layer can travel while backward computes the next. Complete it with
    /// `wait()` before reading or writing `buffer`.
    public func iallreduce<T: MPIReducible>(_ buffer: UnsafeMutableBufferPointer<T>,
                                            op: ReduceOp = .sum) throws -> PendingRequest {
        let pending = PendingRequest(requests: [], name: "MPI_Iallreduce")
        guard let base = buffer.baseAddress else { return pending }
        let sequence = try stallWatch?.arrive()
        var requests: [MPI_Request?] = []
        do {
            try Communicator.forEachChunk(buffer.count) { offset, count in
                var request: MPI_Request? = cmpi_request_null()
                try call("MPI_Iallreduce") {
                    MPI_Iallreduce(cmpi_in_place(), base + offset, count, T.datatype, op.mpiOp, comm, &request)
                }
                requests.append(request)
            }
        } catch {
            // Finish the pieces already started before reporting the failure.
            try? PendingRequest(requests: requests, name: "MPI_Iallreduce").wait()
            throw error
        }
        return PendingRequest(requests: requests, name: "MPI_Iallreduce",
                              watch: stallWatch.flatMap { watch in sequence.map { (watch, $0) } })
    }
}
