import Foundation

/// When a run evaluates itself: every N optimizer steps, or every so much training time
/// (evaluation time not counted).
public enum EvaluationCadence: Equatable, Sendable, CustomStringConvertible {
    case steps(Int)
    case seconds(Double)

    /// `500` (steps) or a duration such as `2m` (`WallDuration`); `name` is the flag.
    public init(parsing text: String, name: String) throws {
        if let steps = Int(text) {
            try OptionCheck.integer(steps, name, 1...Int(Int32.max))
            self = .steps(steps)
        } else if !text.isEmpty && text.allSatisfy({ $0.isNumber }) {
            throw OptionError(name, "is '\(text)': too many steps")
        } else {
            self = .seconds(try WallDuration(parsing: text, name: name).seconds)
        }
    }

    public var description: String {
        switch self {
        case let .steps(n): return "every \(n) steps"
        case let .seconds(s): return "every \(WallDuration.format(s)) of training"
        }
    }
}

/// Sample quality measured while a run trains: at each evaluation the ranks draw `count`
/// images from the EMA weights (the raw ones when the run keeps no EMA), sharded as
/// `launcher sample` does, and FID and KID against the real test images come from the
/// committed classifier. Rank 0 writes the grid and the record (`EvaluationLog`).
/// Every sample uses the same seed, so successive evaluations differ by the model alone.
public final class TrainingEvaluation {
    public struct Settings {
        public var cadence: EvaluationCadence
        public var count = 256
        public var spec: SamplerSpec
        public var seed: UInt64 = 0
        public var clip = true
        public var fid = FIDEvaluation.Settings()
        /// The class names of the grid's rows (a --data run's; nil: Fashion-MNIST's).
        public var classNames: [String]?
        /// Images of the grid written per evaluation (the first ones), 0 for none.
        public var gridImages = 64

        public init(cadence: EvaluationCadence, spec: SamplerSpec) {
            self.cadence = cadence; self.spec = spec
        }
    }

    public let settings: Settings
    /// Training seconds at which a time cadence falls due next.
    private var nextDue: Double

    /// `trainSeconds`: where the run's training clock stands (a resumed run's time so far).
    public init(settings: Settings, trainSeconds: Double) {
        self.settings = settings
        nextDue = 0
        markDone(trainSeconds: trainSeconds)
    }

    /// Whether an evaluation falls due after `stepsTaken` steps and `trainSeconds` of training
    /// (rank 0's clock decides a time cadence; the run agrees on it with the other ranks).
    public func isDue(stepsTaken: Int, trainSeconds: Double) -> Bool {
        switch settings.cadence {
        case let .steps(n): return stepsTaken % n == 0
        case .seconds: return trainSeconds >= nextDue
        }
    }

    func markDone(trainSeconds: Double) {
        if case let .seconds(interval) = settings.cadence {
            nextDue = (floor(trainSeconds / interval) + 1) * interval
        }
    }

    /// One evaluation of `trainer`'s current weights. Collective; the record on rank 0, nil
    /// elsewhere. The grid of the first `gridImages` images goes to `grid` in `directory`.
    public func run(trainer: Trainer, trainSeconds: Double, directory: String, grid: String) throws -> EvaluationRecord? {
        let t0 = ResourceUsage.now()
        let model = try trainer.samplingModel()
        let (count, guidance) = try ClassGuidance.everyClass(of: model.config, count: settings.count)
        let result = try ShardedSampling.generate(model: model, spec: settings.spec, schedule: trainer.schedule, count: count,
                                                  seed: settings.seed, group: trainer.group, guidance: guidance,
                                                  clip: settings.clip)
        // The classifier sees one-channel images: other models get the grid alone.
        // (A --data run's classifier was checked against the model when the run started.)
        let scores = (settings.fid.referenceData != nil || model.config.outChannels == 1 && model.config.sampleSize == Preprocess.imageSize)
            && count >= 2
            ? try FIDEvaluation.evaluate(localImages: result.local, localRange: result.localRange, settings: settings.fid,
                                         group: trainer.group)
            : nil
        guard let images = result.images else { return nil }
        if settings.gridImages > 0 {
            let path = directory + "/" + grid
            try FileError.createFolder((path as NSString).deletingLastPathComponent)
            let shown = min(count, try ClassGuidance.everyClass(of: model.config, count: settings.gridImages).count)
            let first = images.gather(Array(0..<shown))
            if let guidance {
                try SampleFiles.writeClassGrid(images: first, classes: guidance.nullClass,
                                               names: settings.classNames ?? FashionMNIST.classNames, to: path)
            } else {
                try SampleFiles.writeGrid(images: first, to: path)
            }
        }
        return EvaluationRecord(step: trainer.step, imagesSeen: trainer.step * trainer.options.batchSize,
                                trainSeconds: trainSeconds, evalSeconds: ResourceUsage.now() - t0,
                                weights: (trainer.ema != nil ? WeightsChoice.ema : .raw).rawValue, sampler: settings.spec.description, n: count,
                                fid: scores?.fid, kid: scores?.kid?.mean, kidStd: scores?.kid?.std,
                                grid: settings.gridImages > 0 ? grid : nil)
    }
}

/// One evaluation during training, as evaluations.jsonl holds it.
public struct EvaluationRecord: Codable, Equatable, Sendable {
    /// Optimizer steps taken when it ran.
    public let step: Int
    public let imagesSeen: Int
    /// Training wall time before it (evaluations not counted).
    public let trainSeconds: Double
    /// Its own wall time.
    public let evalSeconds: Double
    /// "ema" or "raw".
    public let weights: String
    public let sampler: String
    public let n: Int
    /// nil where the model's images are not the classifier's (not one channel).
    public let fid: Double?
    public let kid: Double?
    public let kidStd: Double?
    /// The grid's path in the run folder.
    public let grid: String?

    /// What rank 0 prints.
    public var line: String {
        let score = fid.map { String(format: "FID %.3f", $0) } ?? "no FID (the classifier takes one-channel images)"
        let kidText = kid.map { k in String(format: ", KID %.2e ± %.1e", k, kidStd ?? 0) } ?? ""
        return "eval at step \(step) (\(imagesSeen) images, \(WallDuration.format(trainSeconds)) of training): "
            + score + kidText + " (n = \(n), \(sampler), \(weights) weights) in " + WallDuration.format(evalSeconds)
    }
}
