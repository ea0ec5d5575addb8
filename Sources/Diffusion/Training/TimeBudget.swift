import Foundation

/// Turns `--time-budget` into a step count before the first step, so that the learning-rate
/// schedule (whose shape depends on its length) runs to completion within the budget.
///
/// The rate comes from `probeSteps` real steps on the run's first batches, timed and then
/// undone (parameters, Adam and the EMA put back), so the run's steps are exactly those of
/// a run planned for the same count. The first probe step is left out of the rate: it pays
/// for first-touch allocations and oneDNN's primitive creation. Rank 0 takes the median of
/// the rest and decides; every rank gets its count. The probe's time counts against the
/// budget, evaluations during training do not.
public enum TimeBudget {
    public struct Plan: Sendable {
        public let steps: Int
        public let secondsPerStep: Double
        /// Wall time of the probe, spent out of the budget.
        public let probeSeconds: Double
    }

    public static let probeSteps = 5

    /// Fixes `trainer`'s step count for a budget of `budgetSeconds`, of which `spentSeconds`
    /// were used before this call. Collective; throws when not even one step fits.
    public static func plan(_ trainer: Trainer, budgetSeconds: Double, spentSeconds: Double = 0) throws -> Plan {
        let t0 = ResourceUsage.now()
        let store = trainer.model.store
        let parameters = Array(UnsafeBufferPointer(start: store.values, count: store.count))
        let m = Array(UnsafeBufferPointer(start: trainer.adam.m, count: store.count))
        let v = Array(UnsafeBufferPointer(start: trainer.adam.v, count: store.count))
        let average = trainer.ema.map { Array(UnsafeBufferPointer(start: $0.shadow, count: store.count)) }
        let start = trainer.step

        var stepSeconds: [Double] = []
        for _ in 0..<probeSteps where !trainer.isFinished {
            stepSeconds.append(try trainer.trainStep().seconds)
        }
        store.values.update(from: parameters, count: store.count)
        if let average {
            trainer.restore(step: start, adamM: m, adamV: v, ema: average)
        } else {
            trainer.restore(step: start, adamM: m, adamV: v)
        }

        let probeSeconds = ResourceUsage.now() - t0
        let timed = stepSeconds.count > 1 ? Array(stepSeconds.dropFirst()) : stepSeconds
        let median = timed.sorted()[timed.count / 2]
        let left = budgetSeconds - spentSeconds - probeSeconds
        let decided = trainer.group.isRoot ? Double(min(Double(Int32.max), (left / median).rounded(.down))) : 0
        let steps = Int(try trainer.group.allreduceSum([decided])[0])
        guard steps >= 1 else {
            throw OptionError("--time-budget", "is \(WallDuration.format(budgetSeconds)): too short for one step of this run "
                              + "(\(String(format: "%.2f", median)) s a step, \(WallDuration.format(probeSeconds)) spent measuring it)")
        }
        try trainer.fixBudgetSteps(steps)
        return Plan(steps: steps, secondsPerStep: median, probeSeconds: probeSeconds)
    }
}

/// Re-plans: the first plan extrapolates a few steps over the whole budget, and a run's step
/// rate drifts from them (the machine's load changes, the first evaluation leaves steps
/// slower, checkpoints take their time). At fixed fractions of the plan the run measures its
/// rate since the last re-plan, on the training clock, and fits the steps left to the time
/// left; the learning-rate schedule keeps its shape and changes only its pace (`SchedulePace`).
extension TimeBudget {
    /// Fractions of the planned steps at which the run re-plans. The last ones are close to
    /// the end, so the final error is that of a rate measured over the preceding 10-15%.
    public static let replanFractions = [0.1, 0.3, 0.5, 0.7, 0.85, 0.95]

    /// Where the rate is measured from: a step and the training clock then.
    public struct Mark: Sendable {
        public let step: Int
        public let trainSeconds: Double
        public init(step: Int, trainSeconds: Double) { self.step = step; self.trainSeconds = trainSeconds }
    }

    /// The step of the next re-plan of a time-budgeted run, nil when none is left. The same
    /// on every rank: it follows from the stored plan only.
    public static func nextReplanStep(_ options: TrainingOptions) -> Int? {
        guard options.timeBudget != nil, let total = options.budgetSteps else { return nil }
        let knots = (options.budgetPace ?? SchedulePace(scheduleSteps: total)).knots
        let done = knots.count - 1
        guard done < replanFractions.count else { return nil }
        return max(knots[knots.count - 1].step + 1, Int((replanFractions[done] * Double(total)).rounded()))
    }

    /// Fits the run's remaining steps to the rest of `budgetSeconds` at the rate measured
    /// since `mark` (rank 0's, on the training clock at `trainSeconds`). Collective; returns
    /// the run's new step count.
    @discardableResult
    public static func replan(_ trainer: Trainer, budgetSeconds: Double, trainSeconds: Double, since mark: Mark) throws -> Int {
        var decided = 0.0
        if trainer.group.isRoot {
            let measured = trainer.step - mark.step
            let secondsPerStep = (trainSeconds - mark.trainSeconds) / Double(max(1, measured))
            let left = max(0, budgetSeconds - trainSeconds)
            let more = measured > 0 && secondsPerStep > 0 ? (left / secondsPerStep).rounded(.down)
                                                          : Double((trainer.options.budgetSteps ?? trainer.step) - trainer.step)
            decided = Double(trainer.step) + min(more, Double(Int32.max) - Double(trainer.step))
        }
        let steps = Int(try trainer.group.allreduceSum([decided])[0])
        try trainer.replanBudgetSteps(steps)
        return steps
    }
}
