import Foundation

/// Wall time per kind of work in a model's forward and backward passes, for
/// `launcher bench model --profile`: where a training step's time goes. Process CPU time
/// is kept beside it: CPU / wall is how many cores the work kept busy, so a label well
/// under the thread count marks serial code or workers waiting on each other.
///
/// Layers report through their `ForwardContext` (`context.timed`); with no profile attached
/// they only call through. Not thread-safe: layers run one after another, each one
/// parallel inside.
public final class StepProfile: @unchecked Sendable {
    public struct Entry: Sendable {
        public var label: String
        /// Wall seconds, and process CPU seconds (every thread) over the same spans.
        public var seconds, cpuSeconds: Double
        public init(label: String, seconds: Double, cpuSeconds: Double) {
            self.label = label; self.seconds = seconds; self.cpuSeconds = cpuSeconds
        }
    }

    /// Seconds per label, in the order the labels first appeared.
    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    public func add(_ label: String, seconds: Double, cpuSeconds: Double) {
        if let i = index[label] {
            entries[i].seconds += seconds
            entries[i].cpuSeconds += cpuSeconds
        } else {
            index[label] = entries.count
            entries.append(Entry(label: label, seconds: seconds, cpuSeconds: cpuSeconds))
        }
    }

    public func reset() { entries = []; index = [:] }

    public var totalSeconds: Double { entries.reduce(0) { $0 + $1.seconds } }
    public var totalCPUSeconds: Double { entries.reduce(0) { $0 + $1.cpuSeconds } }

    /// Times `body` under `label`.
    public func measure<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        let t0 = ResourceUsage.now(), c0 = ResourceUsage.processCPUSeconds()
        defer { add(label, seconds: ResourceUsage.now() - t0, cpuSeconds: ResourceUsage.processCPUSeconds() - c0) }
        return try body()
    }
}

extension ForwardContext {
    /// `body`, timed under `label` when a profile is attached.
    @inline(__always) @discardableResult
    func timed<T>(_ label: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard let profile else { return try body() }
        return try profile.measure(label(), body)
    }
}
