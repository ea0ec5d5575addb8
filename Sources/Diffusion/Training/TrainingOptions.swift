/// Every hyperparameter of a training run; the defaults are the recipe (docs/recipe.md).
/// Encoded into checkpoints and hashed so that all ranks, and a resumed run, agree on them.
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var batchSize = 128
    public var epochs = 25
    public var maxSteps: Int? = nil
    public var maxLR = 1e-2
    public var pctStart = 0.3
    public var divFactor = 25.0
    public var finalDivFactor = 1e4
    public var baseMomentum = 0.85
    public var maxMomentum = 0.95
    public var beta2 = 0.999
    public var adamEps = 1e-5
    public var betaStart = 1e-4
    public var betaMax = 0.01
    public var timesteps = 1000
    public var seed: UInt64 = 0
    /// Clip the global gradient norm to this before each Adam step (nil: no clipping, as the
    /// recipe). Left out of the JSON when nil, so older runs keep their hash.
    public var maxGradNorm: Double? = nil
    /// Keep the last, smaller batch of each epoch (PyTorch's DataLoader default).
    public var dropLast = false

    public init() {}

    public func stepsPerEpoch(datasetSize: Int) -> Int {
        dropLast ? datasetSize / batchSize : (datasetSize + batchSize - 1) / batchSize
    }

    /// Steps the learning-rate schedule is planned for.
    public func plannedSteps(datasetSize: Int) -> Int { epochs * stepsPerEpoch(datasetSize: datasetSize) }

    /// Steps this run takes: the plan, or fewer with `maxSteps`.
    public func stepsToRun(datasetSize: Int) -> Int {
        min(plannedSteps(datasetSize: datasetSize), maxSteps ?? Int.max)
    }

    public func learningRateSchedule(datasetSize: Int) -> OneCycleLR {
        var s = OneCycleLR(maxLR: maxLR, totalSteps: plannedSteps(datasetSize: datasetSize))
        s.pctStart = pctStart; s.divFactor = divFactor; s.finalDivFactor = finalDivFactor
        s.baseMomentum = baseMomentum; s.maxMomentum = maxMomentum
        return s
    }
}

extension TrainingOptions {
    /// JSON with sorted keys: the same bytes in every process (Foundation's key order is not).
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public init(json: String) throws {
        self = try JSONDecoder().decode(TrainingOptions.self, from: Data(json.utf8))
    }
}

import Foundation
