internal import CMPI

// Barrier, broadcast, allreduce and reduce on the world communicator. Buffers longer than
// `maxElementsPerCall` go in several calls (see Chunking.swift); empty buffers make no call,
// so every rank must pass the same length.

extension Communicator {
    public func barrier() throws {
        if stallWatch != nil {
            return try watched("MPI_Ibarrier") { requests in
                var request: MPI_Request? = cmpi_request_null()
                try check(MPI_Ibarrier(comm, &request), "MPI_Ibarrier")
                requests.append(request)
            }
        }
        try call("MPI_Barrier") { MPI_Barrier(comm) }
    }

    // MARK: Broadcast

    /// Copies `root`'s buffer into every rank's buffer (same length on every rank).
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        guard let base = buffer.baseAddress else { return }
        if stallWatch != nil {
            return try watched("MPI_Ibcast") { requests in
                try Communicator.forEachChunk(buffer.count) { offset, count in
                    var request: MPI_Request? = cmpi_request_null()
                    try check(MPI_Ibcast(base + offset, count, T.datatype, Int32(clamping: root), comm, &request), "MPI_Ibcast")
                    requests.append(request)
                }
            }
        }
        try Communicator.forEachChunk(buffer.count) { offset, count in
            try call("MPI_Bcast") { MPI_Bcast(base + offset, count, T.datatype, Int32(clamping: root), comm) }
        }
    }

    /// Replaces `values` on every rank with `root`'s array; other ranks may start with any
    /// length (the length goes first).
    public func broadcast<T: MPIScalar>(_ values: inout [T], root: Int = 0) throws {
        var count = values.count
        try broadcast(&count, root: root)
        if values.count != count { values = [T](repeating: .zero, count: count) }
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    public func broadcast(_ value: inout Int, root: Int = 0) throws {
        var wide = Int64(value)
        try withUnsafeMutablePointer(to: &wide) {
            try broadcast(UnsafeMutableBufferPointer(start: $0, count: 1), root: root)
        }
        value = Int(wide)
    }

    /// Sends the UTF-8 length, then the bytes.
    public func broadcast(_ value: inout String, root: Int = 0) throws {
        var bytes = Array(value.utf8)
        try broadcast(&bytes, root: root)
        value = String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Allreduce

    /// Reduces `buffer` element-wise over all ranks, in place (MPI_IN_PLACE): every rank ends
    /// with the result.
    public func allreduce<T: MPIReducible>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp = .sum) throws {
        guard let base = buffer.baseAddress else { return }
        if stallWatch != nil {
            return try watched("MPI_Iallreduce") { requests in
                try Communicator.forEachChunk(buffer.count) { offset, count in
                    var request: MPI_Request? = cmpi_request_null()
                    try check(MPI_Iallreduce(cmpi_in_place(), base + offset, count, T.datatype, op.mpiOp, comm, &request),
                              "MPI_Iallreduce")
                    requests.append(request)
                }
            }
        }
        try Communicator.forEachChunk(buffer.count) { offset, count in
            try call("MPI_Allreduce") {
                MPI_Allreduce(cmpi_in_place(), base + offset, count, T.datatype, op.mpiOp, comm)
            }
        }
    }

    public func allreduce<T: MPIReducible>(_ values: inout [T], op: ReduceOp = .sum) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, op: op) }
    }

    public func allreduce<T: MPIReducible>(_ value: T, op: ReduceOp = .sum) throws -> T {
        var result = value
        try withUnsafeMutablePointer(to: &result) {
            try allreduce(UnsafeMutableBufferPointer(start: $0, count: 1), op: op)
        }
        return result
    }

    /// The mean over ranks, in place: the allreduce sum divided by `size`.
    public func allreduceAverage<T: MPIReducible & BinaryFloatingPoint>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        try allreduce(buffer, op: .sum)
        let ranks = T(size)
        for i in buffer.indices { buffer[i] /= ranks }
    }

    public func allreduceAverage<T: MPIReducible & BinaryFloatingPoint>(_ values: inout [T]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceAverage($0) }
    }

    public func allreduceAverage<T: MPIReducible & BinaryFloatingPoint>(_ value: T) throws -> T {
        try allreduce(value, op: .sum) / T(size)
    }

    // MARK: Reduce

    /// Reduces `buffer` element-wise over all ranks into `root`'s buffer, in place there
    /// (MPI_IN_PLACE); on the other ranks the buffer is only read.
    public func reduce<T: MPIReducible>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOp = .sum,
                                        root: Int = 0) throws {
        guard let base = buffer.baseAddress else { return }
        let isReceiver = rank == root
        try Communicator.forEachChunk(buffer.count) { offset, count in
            try call("MPI_Reduce") {
                isReceiver
                    ? MPI_Reduce(cmpi_in_place(), base + offset, count, T.datatype, op.mpiOp, Int32(root), comm)
                    : MPI_Reduce(base + offset, nil, count, T.datatype, op.mpiOp, Int32(clamping: root), comm)
            }
        }
    }

    public func reduce<T: MPIReducible>(_ values: inout [T], op: ReduceOp = .sum, root: Int = 0) throws {
        try values.withUnsafeMutableBufferPointer { try reduce($0, op: op, root: root) }
    }
}
