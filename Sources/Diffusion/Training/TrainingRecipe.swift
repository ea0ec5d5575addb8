/// Named sets of training options: the recipe as published, and what the recipe study
/// (docs/results.md, "A better recipe for the same minutes") found best for a short run.
/// A recipe sets the options' starting values; flags given beside it override them.
public enum TrainingRecipe: String, CaseIterable, Codable, Sendable {
    /// The recipe as published (`TrainingOptions()`): OneCycle to 1e-2, epsilon, no weighting.
    case recipe
    /// The study's winner for about ten minutes on two cores (docs/results.md).
    case fast

    public var options: TrainingOptions {
        var o = TrainingOptions()
        switch self {
        case .recipe:
            break
        case .fast:
            // Four times the recipe's optimizer steps for the same images (global batch 32),
            // the one-cycle peak that keeps a short run stable, min-SNR-5 weighting.
            o.batchSize = 32
            o.maxLR = 3e-3
            o.snrGamma = 5
        }
        return o
    }

    /// The option fields this recipe sets away from the defaults (a resumed run must agree on them).
    public var fields: Set<String> {
        let defaults = TrainingOptions().fields, mine = options.fields
        return Set(mine.keys.filter { defaults[$0] != mine[$0] }).union(defaults.keys.filter { mine[$0] == nil })
    }
}
