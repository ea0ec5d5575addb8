import Foundation

/// Wall time per kind of work in a model's forward and backward passes, for
/// `launcher bench model --profile`: where a training step's time goes.
///
/// Layers report through their `ForwardContext` (`context.timed`); with no profile attached
/// they only call through. Not thread-safe: layers run one after another, each one
/// parallel inside.
public final class StepProfile: @unchecked Sendable {
    /// Seconds per label, in the order the labels first appeared.
    public private(set) var entries: [(label: String, seconds: Double)] = []
    private var index: [String: Int] = [:]

    public init() {}

    public func add(_ label: String, seconds: Double) {
        if let i = index[label] {
            entries[i].seconds += seconds
        } else {
            index[label] = entries.count
            entries.append((label, seconds))
        }
    }

    public func reset() { entries = []; index = [:] }

    public var totalSeconds: Double { entries.reduce(0) { $0 + $1.seconds } }

    /// Times `body` under `label`.
    public func measure<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { add(label, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
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
