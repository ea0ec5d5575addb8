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
