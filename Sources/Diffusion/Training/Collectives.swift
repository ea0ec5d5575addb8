/// What training, sampling and statistics need from the process group. Diffusion knows
/// nothing of MPI: the launcher adapts its MPI communicator to this, and tests or
/// single-process runs use `SingleProcess`.
public protocol Collectives: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place sum across ranks; every rank gets the result.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Starts an in-place sum and returns at once; the buffer is the caller's again after
    /// `wait()`. Every rank must start the same sums in the same order.
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective
    /// Root's contents copied to every rank.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    func broadcast(_ buffer: UnsafeMutableBufferPointer<UInt8>, root: Int) throws
    /// Concatenation in rank order on root (others get []); counts[r] is rank r's length.
    func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], root: Int) throws -> [Float]
    func barrier() throws
    /// Names what the collectives started next belong to (`step`, nil outside a step; `part`:
    /// "gradient bucket 2 of 5"), for the message about a rank that does not arrive in them
    /// (`train --stall-warning`). Groups without a stall check ignore it.
    func setStallContext(step: Int?, part: String)
}

/// A collective in flight.
public protocol PendingCollective: AnyObject {
    /// Lets the operation advance without blocking (MPI progresses inside MPI calls).
    @discardableResult func test() throws -> Bool
    /// Blocks until it is complete.
    func wait() throws
}

extension Collectives {
    public var isRoot: Bool { rank == 0 }

    public func setStallContext(step: Int?, part: String) {}

    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return v
    }

    /// Element-wise maximum over ranks, on every rank; the same count on every rank. Each rank
    /// fills its own slot of a size x count array and the sum (exact: the other slots are 0)
    /// shows every rank all values: for the few timings benchmarks compare, not for bulk data.
    public func allreduceMax(_ values: [Double]) throws -> [Double] {
        var slots = [Double](repeating: 0, count: size * values.count)
        slots.replaceSubrange(rank * values.count..<(rank + 1) * values.count, with: values)
        let all = try allreduceSum(slots)
        return values.indices.map { i in (0..<size).map { all[$0 * values.count + i] }.max()! }
    }

    /// Rank 0's string on every rank.
    public func broadcast(_ string: String, root: Int = 0) throws -> String {
        // Length first (as Double through a sum: only root contributes), then the bytes.
        let n = Int(try allreduceSum(rank == root ? [Double(string.utf8.count)] : [0])[0])
        var bytes = rank == root ? Array(string.utf8) : [UInt8](repeating: 0, count: n)
        try bytes.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The one-process group: every collective is the identity.
public final class SingleProcess: Collectives {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective { Done() }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {}
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<UInt8>, root: Int) throws {}
    public func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], root: Int) throws -> [Float] { Array(local) }
    public func barrier() throws {}

    final class Done: PendingCollective {
        func test() throws -> Bool { true }
        func wait() throws {}
    }
}
