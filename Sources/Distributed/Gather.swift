internal import CMPI

extension Communicator {
    /// Concatenates every rank's `send` at `root`, in rank order; other ranks get [].
    /// `counts[r]` is rank r's length and must be the same array on every rank.
    ///
    /// MPI counts and displacements are Int32, so a gather larger than `maxElementsPerCall`
    /// goes in rounds: in round k each rank sends its next piece of at most
    /// `maxElementsPerCall / size` elements, and the root moves the pieces into place.
    public func gatherv<T: MPIScalar>(_ send: UnsafeBufferPointer<T>, counts: [Int], root: Int = 0) throws -> [T] {
        guard counts.count == size else {
            throw MPIError(call: "gatherv", code: MPI_ERR_COUNT,
                           detail: "counts has \(counts.count) entries but the job has \(size) ranks")
        }
        guard counts[rank] == send.count else {
            throw MPIError(call: "gatherv", code: MPI_ERR_COUNT,
                           detail: "counts[\(rank)] is \(counts[rank]) but this rank sends \(send.count) elements")
        }
        if let negative = counts.firstIndex(where: { $0 < 0 }) {
            throw MPIError(call: "gatherv", code: MPI_ERR_COUNT,
                           detail: "counts[\(negative)] is negative (\(counts[negative]))")
        }

        let isReceiver = rank == root
        let starts = counts.indices.map { counts[..<$0].reduce(0, +) }
        var result = [T](repeating: .zero, count: isReceiver ? counts.reduce(0, +) : 0)
        let piece = max(1, Communicator.maxElementsPerCall / size)
        let rounds = ((counts.max() ?? 0) + piece - 1) / piece
        // One round puts every rank's data straight into place; more need a staging buffer.
        var staging = [T](repeating: .zero, count: isReceiver && rounds > 1 ? piece * size : 0)

        for round in 0..<rounds {
            let done = round * piece
            let pieceCounts = counts.map { Int32(min(max($0 - done, 0), piece)) }
            let displacements = pieceCounts.indices.map { Int32(pieceCounts[..<$0].reduce(0, +)) }
            let sendStart = send.baseAddress.map { $0 + min(done, send.count) }
            let sendCount = pieceCounts[rank]
            if rounds == 1 {
                try result.withUnsafeMutableBufferPointer { receive in
                    try call("MPI_Gatherv") {
                        MPI_Gatherv(sendStart, sendCount, T.datatype, receive.baseAddress, pieceCounts,
                                    displacements, T.datatype, Int32(clamping: root), comm)
                    }
                }
                break
            }
            try staging.withUnsafeMutableBufferPointer { receive in
                try call("MPI_Gatherv") {
                    MPI_Gatherv(sendStart, sendCount, T.datatype, receive.baseAddress, pieceCounts,
                                displacements, T.datatype, Int32(clamping: root), comm)
                }
            }
            if isReceiver {
                for r in 0..<size where pieceCounts[r] > 0 {
                    let from = Int(displacements[r])
                    let to = starts[r] + done
                    result[to..<(to + Int(pieceCounts[r]))] = staging[from..<(from + Int(pieceCounts[r]))]
                }
            }
        }
        return result
    }

    public func gatherv<T: MPIScalar>(_ send: [T], counts: [Int], root: Int = 0) throws -> [T] {
        try send.withUnsafeBufferPointer { try gatherv($0, counts: counts, root: root) }
    }

    /// Every rank's `value`, in rank order, on every rank.
    public func allgather(_ value: Int) throws -> [Int] {
        var send = Int64(value)
        var all = [Int64](repeating: 0, count: size)
        try all.withUnsafeMutableBufferPointer { receive in
            try call("MPI_Allgather") {
                MPI_Allgather(&send, 1, Int64.datatype, receive.baseAddress, 1, Int64.datatype, comm)
            }
        }
        return all.map { Int($0) }
    }

    /// Every rank's string, in rank order, at `root`; other ranks get [].
    public func gather(_ value: String, root: Int = 0) throws -> [String] {
        let bytes = Array(value.utf8)
        let lengths = try allgather(bytes.count)
        let all = try gatherv(bytes, counts: lengths, root: root)
        guard rank == root else { return [] }
        var strings: [String] = []
        var start = 0
        for length in lengths {
            strings.append(String(decoding: all[start..<(start + length)], as: UTF8.self))
            start += length
        }
        return strings
    }
}
