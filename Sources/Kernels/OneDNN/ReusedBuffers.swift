import Foundation

/// Large temporary buffers kept between calls. The oneDNN path needs, per batch slice and
/// call, a scratchpad and (with Winograd or bf16) copies of its activations in another
/// layout: megabytes each. Fresh allocations of that size come from the kernel as untouched
/// pages, and faulting them in cost as much as the Winograd primitives saved (the small
/// preset's train step measured slower than direct until these were reused).
final class ReusedBuffers: @unchecked Sendable {
    static let shared = ReusedBuffers()

    struct Buffer { let pointer: UnsafeMutableRawPointer; let bytes: Int }
    private var free: [Buffer] = []
    private let lock = NSLock()

    /// Runs `body` with a 64-byte aligned buffer of at least `bytes` bytes (contents
    /// undefined), then keeps the buffer for later calls. Safe from several threads at once.
    func with<R>(bytes: Int, _ body: (UnsafeMutableRawPointer) throws -> R) rethrows -> R {
        let buffer = take(bytes)
        defer { give(buffer) }
        return try body(buffer.pointer)
    }

    /// The smallest kept buffer that fits; else a new one, in place of the largest kept one
    /// (so the pool holds about as many buffers as are ever in use at once). Hand it back
    /// with `give`.
    func take(_ bytes: Int) -> Buffer {
        lock.lock()
        if let i = free.indices.filter({ free[$0].bytes >= bytes }).min(by: { free[$0].bytes < free[$1].bytes }) {
            defer { lock.unlock() }
            return free.remove(at: i)
        }
        let replaced = free.indices.max(by: { free[$0].bytes < free[$1].bytes }).map { free.remove(at: $0) }
        lock.unlock()
        replaced?.pointer.deallocate()
        return Buffer(pointer: .allocate(byteCount: max(bytes, 64), alignment: 64), bytes: bytes)
    }

    func give(_ buffer: Buffer) {
        lock.lock(); defer { lock.unlock() }
        free.append(buffer)
    }
}
