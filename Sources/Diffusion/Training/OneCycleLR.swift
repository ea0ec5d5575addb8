import Foundation

/// PyTorch's `OneCycleLR` (two phases, cosine annealing) with momentum cycling, as a pure
/// function of the step, so a resumed run lands on exactly the same values.
///
///   phase 1, steps 0 ... pct_start*T - 1:  lr  max_lr/div -> max_lr,  beta1 max_m -> base_m
///   phase 2, up to step T - 1:              lr  max_lr -> max_lr/(div*final_div), beta1 base_m -> max_m
///   cosine anneal from a to b at fraction p: b + (a - b)/2 (1 + cos(pi p))
public struct OneCycleLR: Sendable, Equatable {
    public var maxLR: Double
    public var totalSteps: Int
    public var pctStart = 0.3
    public var divFactor = 25.0
    public var finalDivFactor = 1e4
    public var baseMomentum = 0.85
    public var maxMomentum = 0.95

    public init(maxLR: Double, totalSteps: Int) {
        self.maxLR = maxLR; self.totalSteps = totalSteps
    }

    public var initialLR: Double { maxLR / divFactor }
    public var minLR: Double { initialLR / finalDivFactor }

    static func cosineAnneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
    }

    /// Learning rate and Adam beta1 for optimizer step `step` (0-based), as PyTorch gives them
    /// after `step` calls of scheduler.step(). Steps past the plan keep the last phase's formula.
    public func values(at step: Int) -> (lr: Double, beta1: Double) { values(at: Double(step)) }

    /// The same at a fractional position (a re-planned time budget's `SchedulePace`).
    public func values(at s: Double) -> (lr: Double, beta1: Double) {
        let phase1End = pctStart * Double(totalSteps) - 1
        let phase2End = Double(totalSteps - 1)
        if s <= phase1End {
            // A warm-up of pct_start * T = 1 step ends where it starts (PyTorch divides 0 by 0):
            // that step is the peak.
            let pct = phase1End > 0 ? s / phase1End : 1
            return (Self.cosineAnneal(initialLR, maxLR, pct), Self.cosineAnneal(maxMomentum, baseMomentum, pct))
        }
        let pct = (s - phase1End) / (phase2End - phase1End)
        return (Self.cosineAnneal(maxLR, minLR, pct), Self.cosineAnneal(baseMomentum, maxMomentum, pct))
    }
}
