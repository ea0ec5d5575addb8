import Foundation
@testable import Diffusion

/// `size` ranks as threads of this process, joined by in-memory collectives: a stand-in for
/// an MPI job that exercises the same `Collectives` calls. Every collective waits for all
/// ranks and combines their contributions in rank order, as a reduction would.
/// @unchecked Sendable: its mutable state (generation, arrivals, slots, result) is touched
/// only while holding `condition`.
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var generation = 0, arrived = 0
    private var slots: [Any?]
    private var result: Any?

    private init(size: Int) {
        self.size = size
        slots = [Any?](repeating: nil, count: size)
    }

    /// Runs `body` on `size` threads, rank r with `Rank(r)`; returns each rank's result.
    static func run<T>(size: Int, _ body: @escaping (Collectives) throws -> T) throws -> [T] {
        let group = ThreadGroup(size: size)
        let results = Outcomes<T>(size: size)
        let done = DispatchSemaphore(value: 0)
        let threads = Parallel.threads   // each rank's kernels use the caller's count
        // Each rank-thread calls `body` once; `run` waits for all of them before returning, and
        // what they share they share through the group's collectives, as MPI ranks would.
        nonisolated(unsafe) let body = body
        for r in 0..<size {
            let thread = Thread {
                results.set(r, Parallel.withThreads(threads) { Result { try body(Rank(group: group, rank: r)) } })
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<size { done.wait() }
        return try results.all.map { try $0!.get() }
    }

    /// @unchecked Sendable: `values` is touched only while holding `lock`.
    private final class Outcomes<T>: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Result<T, Error>?]
        init(size: Int) { values = Array(repeating: nil, count: size) }
        func set(_ r: Int, _ v: Result<T, Error>) { lock.lock(); values[r] = v; lock.unlock() }
        var all: [Result<T, Error>?] { lock.lock(); defer { lock.unlock() }; return values }
    }

    /// Every rank hands in `value`; the last to arrive combines them (in rank order) and all
    /// get the combination.
    fileprivate func exchange(rank: Int, _ value: Any, combine: ([Any]) -> Any) -> Any {
        condition.lock(); defer { condition.unlock() }
        let mine = generation
        slots[rank] = value
        arrived += 1
        if arrived == size {
            result = combine(slots.map { $0! })
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return result!
    }

    final class Rank: Collectives {
        let group: ThreadGroup
        let rank: Int
        var size: Int { group.size }
        init(group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }

        private func sum<T: AdditiveArithmetic>(_ buffer: UnsafeMutableBufferPointer<T>) {
            let total = group.exchange(rank: rank, Array(buffer)) { all in
                var s = all[0] as! [T]
                for other in all.dropFirst() { for (i, v) in (other as! [T]).enumerated() { s[i] += v } }
                return s
            } as! [T]
            for i in buffer.indices { buffer[i] = total[i] }
        }
        func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { sum(buffer) }
        func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { sum(buffer) }

        /// Sums only at wait(), as late as MPI may: a caller that reads the buffer earlier fails.
        func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
            Deferred { self.sum(buffer) }
        }
        final class Deferred: PendingCollective {
            private var action: (() -> Void)?
            init(_ action: @escaping () -> Void) { self.action = action }
            func test() throws -> Bool { action == nil }
            func wait() throws { action?(); action = nil }
        }

        private func copy<T>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) {
            let all = group.exchange(rank: rank, Array(buffer)) { $0 } as! [Any]
            let rootValues = all[root] as! [T]
            for i in buffer.indices { buffer[i] = rootValues[i] }
        }
        func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws { copy(buffer, root: root) }
        func broadcast(_ buffer: UnsafeMutableBufferPointer<UInt8>, root: Int) throws { copy(buffer, root: root) }

        func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], root: Int) throws -> [Float] {
            precondition(counts[rank] == local.count, "rank \(rank): gather of \(local.count) values, counts say \(counts[rank])")
            let all = group.exchange(rank: rank, Array(local)) { $0 } as! [Any]
            return rank == root ? all.flatMap { $0 as! [Float] } : []
        }

        func barrier() throws { _ = group.exchange(rank: rank, 0) { $0 } }
    }
}
