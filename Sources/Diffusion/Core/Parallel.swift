import Dispatch

/// Work sharing over our own threads. OpenBLAS is kept single-threaded (see `BLAS.configure`)
/// and the kernels split their work here, so the two never fight over cores.
public enum Parallel {
    /// Threads used by kernels in this process; set once at start (cores / ranks by default).
    nonisolated(unsafe) public static var threads: Int = 1

    /// Workers `forEach` would use for n items.
    public static func workerCount(_ n: Int) -> Int { max(1, min(threads, n)) }

    /// Runs `body(i)` for i in 0..<n, spread over `threads` workers that take indices
    /// dynamically, so uneven items balance out.
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        forEachWithWorker(n) { i, _ in body(i) }
    }

    /// Like `forEach`, also passing the worker (0..<workerCount(n)) that runs the item, for
    /// per-worker scratch and partial sums. Items go out dynamically: on a shared machine
    /// one thread may be descheduled for a while, and a static split would wait for it.
    public static func forEachWithWorker(_ n: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        if n <= 0 { return }
        let workers = workerCount(n)
        if workers <= 1 {
            for i in 0..<n { body(i, 0) }
            return
        }
        let counter = AtomicCounter()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                while true {
                    let i = counter.next()
                    if i >= n { break }
                    body(i, w)
                }
            }
        }
    }

    /// Splits 0..<n into about `threads * 4` contiguous chunks (at least `minChunk` long)
    /// and runs `body(range)` on each.
    public static func forRanges(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let pieces = max(1, min(threads * 4, n / max(minChunk, 1)))
        if pieces == 1 || threads <= 1 { body(0..<n); return }
        let size = (n + pieces - 1) / pieces
        forEach((n + size - 1) / size) { p in
            body((p * size)..<min(n, (p + 1) * size))
        }
    }
}

/// A lock-protected counter (Foundation-free, cheap enough for chunk-level hand-out).
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = SpinLock()
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}

import Foundation
final class SpinLock: @unchecked Sendable {
    private let m = NSLock()
    func lock() { m.lock() }
    func unlock() { m.unlock() }
}
