import Foundation

/// The learning-rate schedules a run can follow, by diffusers' `--lr_scheduler` names
/// (`diffusers.optimization.get_scheduler`), plus the recipe's PyTorch OneCycleLR.
public enum LRSchedulerName: String, Codable, CaseIterable, Sendable {
    /// The recipe: OneCycleLR with momentum cycling (`OneCycleLR`).
    case oneCycle = "one_cycle"
    case cosine, linear, constant
    case constantWithWarmup = "constant_with_warmup"
}

/// Learning rate and Adam beta1 at each step: the recipe's one-cycle, or one of diffusers'
/// warm-up schedules at a fixed beta1. Pure functions of the step (or of a fractional position,
/// `SchedulePace`), so --resume lands on the same values.
public enum LearningRateSchedule: Sendable, Equatable {
    case oneCycle(OneCycleLR)
    case warmup(WarmupSchedule)

    public func values(at step: Int) -> (lr: Double, beta1: Double) { values(at: Double(step)) }

    public func values(at step: Double) -> (lr: Double, beta1: Double) {
        switch self {
        case let .oneCycle(s): return s.values(at: step)
        case let .warmup(s): return (s.lr(at: step), s.beta1)
        }
    }
}

/// diffusers' schedules with linear warm-up (transformers' formulas, which diffusers copies):
///   warm-up, steps 0 ... W-1:  lr = peak * s / W
///   then, with p = (s - W) / (T - W):
///     cosine                   peak * 0.5 (1 + cos(pi p))      (num_cycles 0.5)
///     linear                   peak * (1 - p)
///     constant(_with_warmup)   peak
/// clamped at 0 past the plan; `constant` has W = 0.
public struct WarmupSchedule: Sendable, Equatable {
    public var name: LRSchedulerName
    public var peakLR: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var beta1: Double

    public init(name: LRSchedulerName, peakLR: Double, warmupSteps: Int, totalSteps: Int, beta1: Double) {
        precondition(name != .oneCycle, "one_cycle is OneCycleLR")
        self.name = name; self.peakLR = peakLR; self.totalSteps = totalSteps; self.beta1 = beta1
        self.warmupSteps = name == .constant ? 0 : warmupSteps
    }

    public func lr(at step: Int) -> Double { lr(at: Double(step)) }

    public func lr(at step: Double) -> Double {
        if step < Double(warmupSteps) { return peakLR * step / Double(max(1, warmupSteps)) }
        let p = (step - Double(warmupSteps)) / Double(max(1, totalSteps - warmupSteps))
        switch name {
        case .cosine: return peakLR * max(0, 0.5 * (1 + cos(Double.pi * p)))
        case .linear: return peakLR * max(0, 1 - p)
        case .constant, .constantWithWarmup, .oneCycle: return peakLR
        }
    }
}
