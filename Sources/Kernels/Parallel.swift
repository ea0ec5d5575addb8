import Dispatch
import Foundation

/// Work sharing over our own threads. OpenBLAS is kept single-threaded (see `BLAS.configure`)
/// and the kernels split their work here, so the two never fight over cores.
///
/// The thread count is the process's default (set once at start by `BLAS.configure`), or the
/// count of an enclosing `withThreads` scope: a task-local value, so tests that run at the same
/// time can each use their own count without touching what the others see.
public enum Parallel {
    @TaskLocal private static var scopedThreads: Int?
    private static let processThreads = LockedInt(1)

    /// Threads used by kernels called from here.
    public static var threads: Int { scopedThreads ?? processThreads.value }

    /// Sets the process-wide default (cores / ranks by default; see `BLAS.configure`).
    public static func setProcessThreads(_ n: Int) { processThreads.value = max(1, n) }

    /// Runs `body` with kernels using `n` threads; other tasks keep theirs.
    public static func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        try $scopedThreads.withValue(max(1, n), operation: body)
    }

    /// The same for async work (a test's scope, say).
    public static func withThreads<R>(_ n: Int, _ body: () async throws -> R) async rethrows -> R {
        try await $scopedThreads.withValue(max(1, n), operation: body)
    }

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
            // Safe to share: every item index goes to exactly one worker, and the kernels'
            // contract is that distinct items (or distinct workers' scratch) never write the
            // same memory; `concurrentPerform` returns only when all workers are done.
            nonisolated(unsafe) let body = body
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
        let threads = self.threads
        let pieces = max(1, min(threads * 4, n / max(minChunk, 1)))
        if pieces == 1 || threads <= 1 { body(0..<n); return }
        let size = (n + pieces - 1) / pieces
        forEach((n + size - 1) / size) { p in
            body((p * size)..<min(n, (p + 1) * size))
        }
    }
}

/// A lock-protected counter, cheap enough for chunk-level hand-out.
/// @unchecked Sendable: every access to `value` holds `lock`.
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}

/// An Int behind a lock. @unchecked Sendable: every access holds `lock`.
final class LockedInt: @unchecked Sendable {
    private var stored: Int
    private let lock = NSLock()
    init(_ value: Int) { stored = value }
    var value: Int {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
