/// The cost of a ring allreduce, in the α-β model.
///
/// A ring allreduce of n bytes over p ranks is a reduce-scatter then an allgather: 2(p-1)
/// steps, in each of which every rank sends n/p bytes to its neighbour. With α the latency of
/// one message and β the bandwidth of one link (bytes/s):
///
///     T(p, n) = 2(p-1) α + 2(p-1)/p · n/β
///
/// The bandwidth term barely grows with p (it tends to 2n/β): the ring is why data-parallel
/// training scales at all. The latency term grows linearly and matters only for small n.
public struct RingAllreduceCost: Codable, Sendable, Equatable {
    /// Latency of one message, seconds.
    public var alpha: Double
    /// Bandwidth of one link, bytes per second.
    public var beta: Double

    public init(alpha: Double, beta: Double) {
        self.alpha = alpha; self.beta = beta
    }

    /// T(p, n) in seconds; 0 for one rank.
    public func seconds(ranks p: Int, bytes n: Double) -> Double {
        guard p > 1 else { return 0 }
        let steps = 2 * Double(p - 1)
        return steps * alpha + steps / Double(p) * n / beta
    }

    /// α and β from allreduce timings at `ranks` ranks: α from the messages of at most
    /// `latencyBytes` (the bandwidth term is negligible there; the fastest of them, since
    /// interference only adds time), or the smallest message if none is that small; β from
    /// the largest message with that latency taken off.
    public static func fit(ranks p: Int, bytes: [Double], seconds: [Double],
                           latencyBytes: Double = 1024) -> RingAllreduceCost? {
        guard p > 1, bytes.count == seconds.count,
              let small = bytes.indices.min(by: { bytes[$0] < bytes[$1] }),
              let large = bytes.indices.max(by: { bytes[$0] < bytes[$1] }),
              bytes[large] > bytes[small] else { return nil }
        let steps = 2 * Double(p - 1)
        let latencyBound = bytes.indices.filter { bytes[$0] <= latencyBytes && $0 != large }.map { seconds[$0] }
        let alpha = (latencyBound.min() ?? seconds[small]) / steps
        let transfer = seconds[large] - steps * alpha
        guard transfer > 0 else { return nil }
        return RingAllreduceCost(alpha: alpha, beta: steps / Double(p) * bytes[large] / transfer)
    }

    /// "Bus bandwidth" of an allreduce that took `seconds` (the nccl-tests convention):
    /// 2(p-1)/p · n / t, the rate each link actually carried, comparable across rank counts.
    public static func busBandwidth(ranks p: Int, bytes n: Double, seconds t: Double) -> Double {
        p > 1 ? 2 * Double(p - 1) / Double(p) * n / t : .infinity
    }
}
