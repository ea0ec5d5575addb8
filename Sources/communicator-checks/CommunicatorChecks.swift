import Distributed

/// Every Communicator operation with rank-dependent values whose results are exact
/// (small integers and halves), so any wrong element, order or chunk shows.
/// Rank 0 prints `ok NAME` or `FAIL NAME expected ... got ... (rank R)` per check.
struct CommunicatorChecks {
    let comm: Communicator
    /// Failed checks, known on every rank once `runAll` returns.
    private(set) var failed = 0

    init(comm: Communicator) { self.comm = comm }

    mutating func runAll() throws {
        let comm = self.comm  // the check closures must not capture self, which check() mutates
        let r = comm.rank, s = comm.size, last = s - 1
        let n = 7  // longer than the chunk limits the tests use

        try check("world") {
            (0..<s).contains(r) && !comm.processorName.isEmpty
                ? nil : "rank \(r) of \(s) on host '\(comm.processorName)'"
        }
        try check("allgather") { expect(try comm.allgather(10 * r + 1), (0..<s).map { 10 * $0 + 1 }) }
        try check("barrier") { try comm.barrier(); return nil }
        try check("wtime") {
            let start = Communicator.wtime()
            try comm.barrier()
            let end = Communicator.wtime()
            return end >= start ? nil : "expected increasing times got \(start) then \(end)"
        }

        // Broadcast
        try check("broadcast.float") {
            var values = (0..<n).map { r == 0 ? Float($0) + 0.5 : -1 }
            try values.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
            return expect(values, (0..<n).map { Float($0) + 0.5 })
        }
        try check("broadcast.double.root-last") {
            var values = (0..<n).map { r == last ? 1000 + Double($0) * 1.25 : 0 }
            try values.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: last) }
            return expect(values, (0..<n).map { 1000 + Double($0) * 1.25 })
        }
        try check("broadcast.int64") {
            var values = (0..<n).map { r == 0 ? (Int64(1) << 40) + Int64($0) : Int64(r) }
            try values.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
            return expect(values, (0..<n).map { (Int64(1) << 40) + Int64($0) })
        }
        try check("broadcast.uint8") {
            var values = (0..<n).map { r == 0 ? UInt8(200 + $0) : 0 }
            try values.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
            return expect(values, (0..<n).map { UInt8(200 + $0) })
        }
        try check("broadcast.array.float") {
            var values: [Float] = r == 0 ? (0..<n).map { Float($0) * 2 + 1 } : []
            try comm.broadcast(&values)
            return expect(values, (0..<n).map { Float($0) * 2 + 1 })
        }
        try check("broadcast.array.double.root-last") {
            var values: [Double] = r == last ? (0..<n).map { -Double($0) / 4 } : [9, 9]
            try comm.broadcast(&values, root: last)
            return expect(values, (0..<n).map { -Double($0) / 4 })
        }
        try check("broadcast.int") {
            var value = r == 0 ? 123_456_789_012 : r
            try comm.broadcast(&value)
            return expect(value, 123_456_789_012)
        }
        try check("broadcast.string.root-last") {
            var value = r == last ? "héllo ✓ from rank \(last)" : ""
            try comm.broadcast(&value, root: last)
            return expect(value, "héllo ✓ from rank \(last)")
        }

        // Allreduce: rank r contributes values depending on r and the index i.
        try check("allreduce.float.sum") {
            var values = (0..<n).map { Float((r + 1) * ($0 + 1)) }
            try comm.allreduce(&values)
            return expect(values, (0..<n).map { Float(s * (s + 1) / 2 * ($0 + 1)) })
        }
        try check("allreduce.double.max") {
            var values = (0..<n).map { Double(r * ($0 + 1) - $0) }
            try values.withUnsafeMutableBufferPointer { try comm.allreduce($0, op: .max) }
            return expect(values, (0..<n).map { Double(last * ($0 + 1) - $0) })
        }
        try check("allreduce.int64.min") {
            var values = (0..<n).map { Int64(100 - 3 * r + $0) }
            try values.withUnsafeMutableBufferPointer { try comm.allreduce($0, op: .min) }
            return expect(values, (0..<n).map { Int64(100 - 3 * last + $0) })
        }
        try check("allreduce.scalar") {
            expect([try comm.allreduce(Double(r + 1)), Double(try comm.allreduce(Int64(r), op: .max))],
                   [Double(s * (s + 1) / 2), Double(last)])
        }
        try check("allreduceAverage.float") {
            var values = (0..<n).map { Float(2 * r + $0) }
            try values.withUnsafeMutableBufferPointer { try comm.allreduceAverage($0) }
            return expect(values, (0..<n).map { Float(s * (s - 1) + s * $0) / Float(s) })
        }
        try check("allreduceAverage.double") {
            var values = (0..<n).map { Double(r) + 0.5 * Double($0) }
            try comm.allreduceAverage(&values)
            return expect(values, (0..<n).map { (Double(s * (s - 1) / 2) + Double(s) * 0.5 * Double($0)) / Double(s) })
        }
        try check("allreduceAverage.scalar") {
            expect(try comm.allreduceAverage(Float(r)), Float(s * (s - 1) / 2) / Float(s))
        }

        // Reduce: only the root's buffer changes.
        try check("reduce.float.sum") {
            var values = (0..<n).map { Float(r + $0) }
            try values.withUnsafeMutableBufferPointer { try comm.reduce($0) }
            return expect(values, (0..<n).map { r == 0 ? Float(s * (s - 1) / 2 + s * $0) : Float(r + $0) })
        }
        try check("reduce.int64.max.root-last") {
            var values = (0..<n).map { Int64(10 * r + $0) }
            try comm.reduce(&values, op: .max, root: last)
            return expect(values, (0..<n).map { Int64(10 * (r == last ? last : r) + $0) })
        }

        // Gather: uneven lengths, one rank possibly empty.
        try check("gatherv.float") {
            let counts = (0..<s).map { 2 * $0 + 3 }
            let mine = (0..<counts[r]).map { Float(100 * r + $0) }
            let all = try mine.withUnsafeBufferPointer { try comm.gatherv($0, counts: counts) }
            let expected = r == 0 ? (0..<s).flatMap { q in (0..<counts[q]).map { Float(100 * q + $0) } } : []
            return expect(all, expected)
        }
        try check("gatherv.double.empty-rank.root-last") {
            let counts = (0..<s).map { $0 == 1 ? 0 : $0 + 4 }
            let mine = (0..<counts[r]).map { Double(r) + Double($0) / 4 }
            let all = try comm.gatherv(mine, counts: counts, root: last)
            let expected = r == last ? (0..<s).flatMap { q in (0..<counts[q]).map { Double(q) + Double($0) / 4 } } : []
            return expect(all, expected)
        }
        try check("gather.string") {
            expect(try comm.gather("rank \(r) ✓"), r == 0 ? (0..<s).map { "rank \($0) ✓" } : [])
        }

        // Nonblocking
        try check("iallreduce.float") {
            var values = (0..<n).map { Float((r + 1) * $0) }
            try values.withUnsafeMutableBufferPointer { buffer in
                let pending = try comm.iallreduce(buffer)
                try pending.wait()
                try pending.wait()  // a second wait returns at once
            }
            return expect(values, (0..<n).map { Float(s * (s + 1) / 2 * $0) })
        }
        try check("iallreduce.double.max") {
            var values = (0..<n).map { Double(r - $0) }
            try values.withUnsafeMutableBufferPointer { try comm.iallreduce($0, op: .max).wait() }
            return expect(values, (0..<n).map { Double(last - $0) })
        }

        // Errors come back as MPIError (MPI_ERRORS_RETURN) on every rank, without hanging.
        try check("error.invalid-root") {
            var values: [Float] = [1, 2, 3]
            do {
                try values.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: s) }
                return "expected MPIError from MPI_Bcast got success"
            } catch let error as MPIError {
                // MPI_Ibcast with the stall check on.
                return ["MPI_Bcast", "MPI_Ibcast"].contains(error.call) && error.message.contains("root")
                    ? nil : "expected MPI_Bcast invalid root error got \(error)"
            }
        }
        try check("error.gatherv-counts") {
            do {
                _ = try comm.gatherv([Float(1)], counts: [1] + Array(repeating: 1, count: s))
                return "expected MPIError from gatherv got success"
            } catch let error as MPIError {
                return error.call == "gatherv" ? nil : "expected gatherv error got \(error)"
            }
        }

        var failures = failed
        try comm.broadcast(&failures)
        failed = failures
        if comm.isRoot { print("\(failed == 0 ? "all" : "\(failed) of") checks \(failed == 0 ? "passed" : "failed") on \(s) rank(s)") }
    }

    /// After `finalize()`: finalizing again does nothing, while operations and a new
    /// `world()` throw instead of crashing inside MPI.
    static func afterFinalize(_ comm: Communicator) -> String? {
        do { try comm.finalize() } catch { return "expected a second finalize to do nothing got \(error)" }
        if (try? comm.barrier()) != nil { return "expected barrier after finalize to throw got success" }
        if (try? Communicator.world()) != nil { return "expected world() after finalize to throw got a communicator" }
        return nil
    }

    /// Runs one check on every rank; `body` returns nil, or what went wrong on this rank.
    private mutating func check(_ name: String, _ body: () throws -> String?) throws {
        let problem: String?
        do { problem = try body() } catch { problem = "threw \(error)" }
        let problems = try comm.gather(problem ?? "")
        guard comm.isRoot else { return }
        let failing = problems.enumerated().filter { !$0.element.isEmpty }
        if failing.isEmpty {
            print("ok \(name)")
        } else {
            failed += 1
            print("FAIL \(name) " + failing.map { "\($0.element) (rank \($0.offset))" }.joined(separator: " | "))
        }
    }
}

private func expect<T: Equatable>(_ got: T, _ expected: T) -> String? {
    got == expected ? nil : "expected \(expected) got \(got)"
}
