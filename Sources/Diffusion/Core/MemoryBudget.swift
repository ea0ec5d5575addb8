import Foundation

/// What a model, a training step or a sampling batch will allocate, estimated before it is
/// allocated, so that an impossible request stops with a message instead of an aborted
/// allocation or a machine driven into swap.
public struct MemoryEstimate: Sendable, CustomStringConvertible {
    /// Parameters of the model.
    public var parameters: CheckedSize
    /// Parameters and gradients (and Adam's two moments when training).
    public var parameterBytes: CheckedSize
    /// Activations: for training those kept for backward plus backward's working set, for
    /// inference the skip connections plus the largest layer's working set; times the batch.
    public var activationBytes: CheckedSize
    /// Anything else the caller holds: the data set, the gathered samples.
    public var otherBytes: CheckedSize = 0

    public var totalBytes: CheckedSize { parameterBytes + activationBytes + otherBytes }

    public var description: String {
        var parts = ["\(parameters) parameters: \(MemoryBudget.format(parameterBytes))"]
        if activationBytes != 0 { parts.append("activations \(MemoryBudget.format(activationBytes))") }
        if otherBytes != 0 { parts.append("data \(MemoryBudget.format(otherBytes))") }
        return "about \(MemoryBudget.format(totalBytes)) (" + parts.joined(separator: ", ") + ")"
    }
}

/// The memory one process may plan to use: 90% of the machine's physical memory (or of the
/// cgroup's limit when that is lower), or `DIFFUSION_MEMORY_LIMIT_MIB` when set. Ranks on one
/// host each get the whole budget: the check stops requests no single process could serve.
public enum MemoryBudget {
    public static let limitVariable = "DIFFUSION_MEMORY_LIMIT_MIB"
    static let margin = 0.9

    public struct Limit: Sendable {
        public let bytes: Int
        /// Where the number comes from, for messages.
        public let source: String

        public init(bytes: Int, source: String) { self.bytes = bytes; self.source = source }
    }

    /// A budget for the code run inside `$scoped.withValue(limit) { }` (this task only), before
    /// the environment and the machine: a test's or an embedding program's own limit.
    @TaskLocal public static var scoped: Limit?

    /// The budget: the scoped one, else read from the environment and the machine.
    public static func limit(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Limit {
        if let scoped { return scoped }
        if let text = environment[limitVariable] {
            guard let mib = Double(text), mib > 0, mib < Double(Int.max >> 20) else {
                throw MemoryError.badLimit(variable: limitVariable, value: text)
            }
            return Limit(bytes: Int(mib * 1_048_576), source: "\(limitVariable)=\(text)")
        }
        var physical = Int(ProcessInfo.processInfo.physicalMemory)
        var what = "physical memory"
        if let cgroup = cgroupLimit(), cgroup < physical { physical = cgroup; what = "the cgroup's memory.max" }
        return Limit(bytes: Int(Double(physical) * margin),
                     source: "\(Int(margin * 100))% of \(format(CheckedSize(physical))) \(what)")
    }

    /// Throws `MemoryError` when `estimate` overflows or exceeds the budget; `what` says
    /// what was asked for ("training batch 128 per rank", "sampling 256 images").
    public static func check(_ estimate: MemoryEstimate, for what: String, limit: Limit? = nil) throws {
        guard let total = estimate.totalBytes.value else {
            throw MemoryError.overflow(what: what, estimate: estimate)
        }
        let limit = try limit ?? self.limit()
        if total > limit.bytes {
            throw MemoryError.exceedsBudget(what: what, estimate: estimate, limit: limit)
        }
    }

    /// `check` on every rank of `group`, agreed by one allreduce: when any rank's check fails
    /// every rank throws, so none goes on into a collective the others have left.
    public static func check(_ estimate: MemoryEstimate, for what: String, group: Collectives) throws {
        var failure: Error?
        do { try check(estimate, for: what) } catch { failure = error }
        let failedRanks = try group.allreduceSum([failure == nil ? 0 : 1])[0]
        if let failure { throw failure }
        if failedRanks > 0 { throw MemoryError.otherRank(what: what, ranks: Int(failedRanks)) }
    }

    /// cgroup v2's memory.max for this process's group, nil when unlimited or unknown.
    static func cgroupLimit() -> Int? {
        guard let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// "456.0 MiB", "1.23 GiB", "5.7 TiB".
    public static func format(_ bytes: CheckedSize) -> String {
        guard let b = bytes.value else { return "more than \(Int.max) bytes" }
        let mib = Double(b) / 1_048_576
        if mib >= 1024 * 1024 { return String(format: "%.1f TiB", mib / 1024 / 1024) }
        return mib >= 1024 ? String(format: "%.2f GiB", mib / 1024) : String(format: "%.1f MiB", mib)
    }
}

public enum MemoryError: Error, CustomStringConvertible {
    case overflow(what: String, estimate: MemoryEstimate)
    case exceedsBudget(what: String, estimate: MemoryEstimate, limit: MemoryBudget.Limit)
    case badLimit(variable: String, value: String)
    case otherRank(what: String, ranks: Int)

    public var description: String {
        switch self {
        case .overflow(let what, let e):
            return "\(what): the size overflows a 64-bit count (\(e.parameters) parameters); "
                + "use fewer or narrower layers (block_out_channels, layers_per_block) or a smaller batch"
        case .exceedsBudget(let what, let e, let limit):
            return "\(what) needs \(e), more than the \(MemoryBudget.format(CheckedSize(limit.bytes))) this process "
                + "may use (\(limit.source)); use a smaller batch or model, or set \(MemoryBudget.limitVariable) to override"
        case .badLimit(let variable, let value):
            return "\(variable) is '\(value)'; expected a positive number of MiB"
        case .otherRank(let what, let ranks):
            return "\(what): \(ranks) other rank(s) cannot fit it in memory (see their message)"
        }
    }
}
