/// Range checks on `TrainingOptions` read back from a file (a checkpoint's metadata): the
/// launcher validates its flags, but a damaged or hand-edited state file must not reach the
/// schedules' preconditions or divide by a zero batch size.
extension TrainingOptions {
    /// Most diffusion steps a schedule may have (its tables are allocated up front).
    public static let maxTimesteps = 1_000_000

    /// The first option out of its range, as "name is value; expected range", or nil.
    public var firstProblem: String? {
        func positive(_ x: Double) -> Bool { x > 0 && x.isFinite }
        func unit(_ x: Double) -> Bool { x >= 0 && x < 1 }
        let checks: [(ok: Bool, name: String, value: String, expected: String)] = [
            (batchSize >= 1, "batchSize", "\(batchSize)", "at least 1"),
            (epochs >= 1, "epochs", "\(epochs)", "at least 1"),
            ((maxSteps ?? 1) >= 1, "maxSteps", "\(maxSteps.map(String.init) ?? "null")", "null or at least 1"),
            (positive(maxLR), "maxLR", "\(maxLR)", "a positive finite number"),
            (pctStart > 0 && pctStart < 1, "pctStart", "\(pctStart)", "in (0, 1)"),
            (positive(divFactor), "divFactor", "\(divFactor)", "a positive finite number"),
            (positive(finalDivFactor), "finalDivFactor", "\(finalDivFactor)", "a positive finite number"),
            (unit(baseMomentum), "baseMomentum", "\(baseMomentum)", "in [0, 1)"),
            (unit(maxMomentum), "maxMomentum", "\(maxMomentum)", "in [0, 1)"),
            (unit(beta2), "beta2", "\(beta2)", "in [0, 1)"),
            (positive(adamEps), "adamEps", "\(adamEps)", "a positive finite number"),
            (betaStart > 0 && betaStart <= betaMax && betaMax < 1, "betaStart, betaMax", "\(betaStart), \(betaMax)",
             "0 < betaStart <= betaMax < 1"),
            ((1...Self.maxTimesteps).contains(timesteps), "timesteps", "\(timesteps)", "in 1...\(Self.maxTimesteps)"),
            (maxGradNorm.map(positive) ?? true, "maxGradNorm", "\(maxGradNorm.map { "\($0)" } ?? "null")",
             "null or a positive finite number"),
        ]
        return checks.first { !$0.ok }.map { "\($0.name) is \($0.value); expected \($0.expected)" }
    }
}
