import Distributed
import Testing

/// Every operation in this process, an MPI singleton of one rank, where each result is exact.
/// Serialized: MPI runs with MPI_THREAD_SERIALIZED, and Swift Testing uses many threads. No
/// test finalizes, since MPI cannot start again in this process.
@Suite(.serialized) struct SingletonTests {
    let comm: Communicator

    init() throws { comm = try Communicator.world() }

    @Test func worldIsOneRankAndIdempotent() throws {
        #expect(try Communicator.world() === comm)
        #expect(comm.rank == 0 && comm.size == 1 && comm.isRoot)
        #expect(!comm.processorName.isEmpty)
        #expect(Communicator.libraryVersion.contains("MPI"))
        #expect(!Communicator.libraryVersion.contains("\0") && !comm.processorName.contains("\0"))
        let start = Communicator.wtime()
        try comm.barrier()
        #expect(Communicator.wtime() >= start)
    }

    @Test func broadcast() throws {
        var floats: [Float] = [1.5, -2, 3]
        try floats.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
        #expect(floats == [1.5, -2, 3])
        var bytes: [UInt8] = [0, 255, 7]
        try bytes.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
        #expect(bytes == [0, 255, 7])
        var wide: [Int64] = [Int64.min, Int64.max]
        try wide.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
        #expect(wide == [Int64.min, Int64.max])
        var doubles: [Double] = [0.25, 1e300]
        try comm.broadcast(&doubles)
        #expect(doubles == [0.25, 1e300])
        var count = 42
        try comm.broadcast(&count)
        #expect(count == 42)
        var text = "ünïcode ✓"
        try comm.broadcast(&text)
        #expect(text == "ünïcode ✓")
    }

    @Test func allreduceAndAverage() throws {
        var floats: [Float] = [1, -2, 3.5]
        try comm.allreduce(&floats)
        #expect(floats == [1, -2, 3.5])
        var wide: [Int64] = [5, -7]
        try wide.withUnsafeMutableBufferPointer { try comm.allreduce($0, op: .min) }
        #expect(wide == [5, -7])
        #expect(try comm.allreduce(2.5, op: .max) == 2.5)
        var doubles: [Double] = [0.5, 3]
        try comm.allreduceAverage(&doubles)
        #expect(doubles == [0.5, 3])
        #expect(try comm.allreduceAverage(Float(4)) == 4)
    }

    @Test func reduceAtRoot() throws {
        var values: [Double] = [1, 2, 3]
        try comm.reduce(&values, op: .sum, root: 0)
        #expect(values == [1, 2, 3])
    }

    @Test func gather() throws {
        let floats: [Float] = [1, 2, 3, 4, 5]
        #expect(try floats.withUnsafeBufferPointer { try comm.gatherv($0, counts: [5]) } == floats)
        #expect(try comm.gatherv([Double](), counts: [0]) == [])
        #expect(try comm.allgather(17) == [17])
        #expect(try comm.gather("host") == ["host"])
    }

    @Test func iallreduce() throws {
        var values: [Float] = [1, 2, 3]
        try values.withUnsafeMutableBufferPointer { buffer in
            let pending = try comm.iallreduce(buffer)
            try pending.wait()
            try pending.wait()
        }
        #expect(values == [1, 2, 3])
    }

    /// Lowering the limit splits every buffer into many calls (gatherv into rounds).
    @Test(arguments: [1, 2, 3, 7]) func smallChunkLimit(limit: Int) throws {
        let saved = Communicator.maxElementsPerCall
        Communicator.maxElementsPerCall = limit
        defer { Communicator.maxElementsPerCall = saved }
        let original = (0..<10).map { Float($0) * 1.5 }

        var values = original
        try comm.broadcast(&values)
        try comm.allreduce(&values, op: .sum)
        try comm.allreduceAverage(&values)
        try comm.reduce(&values)
        try values.withUnsafeMutableBufferPointer { try comm.iallreduce($0).wait() }
        #expect(values == original)
        #expect(try comm.gatherv(original, counts: [10]) == original)
        var text = String(repeating: "abc✓", count: 5)
        try comm.broadcast(&text)
        #expect(text == String(repeating: "abc✓", count: 5))
    }

    @Test func errorsNameTheCallCodeAndText() throws {
        var values: [Float] = [1]
        let error = try #require(throws: MPIError.self) {
            try values.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 1) }
        }
        #expect(error.call == "MPI_Bcast")
        #expect(error.code != 0)
        #expect(error.message.contains("root"), "\(error)")
        #expect(error.rank == 0)
        #expect(error.description.contains("MPI_Bcast failed on rank 0"))

        let countError = try #require(throws: MPIError.self) {
            try comm.gatherv([Float(1), 2], counts: [3])
        }
        #expect(countError.call == "gatherv")
        #expect(countError.message.contains("counts[0] is 3 but this rank sends 2"), "\(countError)")
        #expect(throws: MPIError.self) { try comm.gatherv([Float(1)], counts: [1, 1]) }
    }
}
