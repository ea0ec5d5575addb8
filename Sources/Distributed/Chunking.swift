extension Communicator {
    /// The most elements handed to one MPI call. MPI counts are Int32, so longer buffers go in
    /// several calls. Tests lower it to exercise that splitting on small buffers. Every rank
    /// must use the same value, and it may only change between operations.
    public static var maxElementsPerCall: Int {
        get { maxElementsPerCallStorage }
        set {
            precondition(newValue >= 1 && newValue <= Int(Int32.max),
                         "maxElementsPerCall must be in 1...Int32.max, got \(newValue)")
            maxElementsPerCallStorage = newValue
        }
    }

    /// Calls `body(offset, count)` for consecutive pieces of 0..<total, each at most
    /// `maxElementsPerCall` long; nothing for an empty range.
    static func forEachChunk(_ total: Int, _ body: (_ offset: Int, _ count: Int32) throws -> Void) rethrows {
        let limit = maxElementsPerCall
        var offset = 0
        while offset < total {
            let count = min(limit, total - offset)
            try body(offset, Int32(count))
            offset += count
        }
    }
}

nonisolated(unsafe) private var maxElementsPerCallStorage = Int(Int32.max)
