import Foundation

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
    /// Train on the first N images only (smoke tests). Left out of the JSON when nil.
    public var trainSubset: Int? = nil
    /// Class-conditional training (ConditionalTraining.swift): true, or nil for the recipe's
    /// unconditional run. The three fields are left out of the JSON when nil, so unconditional
    /// runs keep their hash.
    public var conditional: Bool? = nil
    /// Probability of replacing an image's class by the null class (conditional runs only).
    public var labelDropout: Double? = nil
    /// Classes of the data set (conditional runs only): the null class is this index.
    public var classCount: Int? = nil
    /// EMA of the weights (`EMA`, diffusers' EMAModel): its largest decay; nil: no EMA.
    /// Runs saved before EMA existed have no such field and so train without one.
    /// 0.999: the one-epoch job (469 steps) stays inside the warm-up, (1 + s)/(10 + s) <= 0.981,
    /// whatever the cap; the 25-epoch recipe (11,725 steps) reaches 0.999 at step ~9,000, an
    /// average over its last ~1,000 steps (2 epochs). 0.9999 would never be reached there.
    public var emaDecay: Double? = 0.999
    /// EMA: `min_decay` (nil: 0).
    public var emaMinDecay: Double? = nil
    /// EMA: `update_after_step` (nil: 0).
    public var emaUpdateAfterStep: Int? = nil
    /// EMA: `use_ema_warmup` with this `power` (nil: the (1 + s)/(10 + s) warm-up).
    public var emaPower: Double? = nil
    /// EMA: `inv_gamma` of the power warm-up (nil: 1).
    public var emaInvGamma: Double? = nil
    /// Train for this many seconds of wall time instead of `epochs` (`TimeBudget`): the
    /// schedule's length is fixed from the step rate measured at the start. Left out of the
    /// JSON when nil, as are `budgetSteps` and `budgetPace`.
    public var timeBudget: Double? = nil
    /// The steps a time budget was turned into: decided at the start, corrected by the
    /// re-plans as the run goes (`TimeBudget`), and stored with the run, so a resumed run
    /// continues its plan.
    public var budgetSteps: Int? = nil
    /// How the learning-rate schedule is walked once a re-plan has changed `budgetSteps`
    /// (nil until then: the schedule is laid out for `budgetSteps`).
    public var budgetPace: SchedulePace? = nil
    /// The learning-rate schedule (nil: the recipe's one-cycle). The warm-up ones peak at
    /// `maxLR` and run Adam at beta1 = `maxMomentum`.
    public var lrScheduler: LRSchedulerName? = nil
    /// Warm-up steps of the warm-up schedules (nil: 5% of the planned steps).
    public var lrWarmupSteps: Int? = nil
    /// What the model learns to output (diffusers' `prediction_type`); nil: epsilon, the
    /// recipe. Left out of the JSON when nil, as is `snrGamma`.
    public var predictionType: PredictionType? = nil
    /// min-SNR-gamma loss weighting (`TrainingTarget`, diffusers' `--snr_gamma`); nil: none.
    public var snrGamma: Double? = nil

    public init() {}

    public func stepsPerEpoch(datasetSize: Int) -> Int {
        dropLast ? datasetSize / batchSize : (datasetSize + batchSize - 1) / batchSize
    }

    /// Steps the learning-rate schedule is planned for: `epochs` of the data, or what a time
    /// budget was turned into.
    public func plannedSteps(datasetSize: Int) -> Int { budgetSteps ?? epochs * stepsPerEpoch(datasetSize: datasetSize) }

    /// A time budget whose step count is not decided yet.
    public var awaitsBudgetPlan: Bool { timeBudget != nil && budgetSteps == nil }

    /// Steps this run takes: the plan, or fewer with `maxSteps`.
    public func stepsToRun(datasetSize: Int) -> Int {
        min(plannedSteps(datasetSize: datasetSize), maxSteps ?? Int.max)
    }

    /// The EMA these options ask for; nil when off.
    public var emaSettings: EMA.Settings? {
        emaDecay.map { EMA.Settings(maxDecay: $0, minDecay: emaMinDecay ?? 0, updateAfterStep: emaUpdateAfterStep ?? 0,
                                    power: emaPower, invGamma: emaInvGamma ?? 1) }
    }

    /// Where step `step` stands in the learning-rate schedule: the step itself, unless a
    /// re-planned time budget changed the pace (`SchedulePace`).
    public func schedulePosition(step: Int, datasetSize: Int) -> Double {
        budgetPace.map { $0.position(at: step, totalSteps: plannedSteps(datasetSize: datasetSize)) } ?? Double(step)
    }

    public func learningRateSchedule(datasetSize: Int) -> LearningRateSchedule {
        let total = budgetPace?.scheduleSteps ?? plannedSteps(datasetSize: datasetSize)
        guard let lrScheduler, lrScheduler != .oneCycle else {
            var s = OneCycleLR(maxLR: maxLR, totalSteps: total)
            s.pctStart = pctStart; s.divFactor = divFactor; s.finalDivFactor = finalDivFactor
            s.baseMomentum = baseMomentum; s.maxMomentum = maxMomentum
            return .oneCycle(s)
        }
        let warmup = lrWarmupSteps ?? Int((0.05 * Double(total)).rounded())
        return .warmup(WarmupSchedule(name: lrScheduler, peakLR: maxLR, warmupSteps: warmup, totalSteps: total, beta1: maxMomentum))
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

extension TrainingOptions {
    /// Global batches beyond this are a typo, not a plan (and keep step * batch in range).
    public static let maxBatchSize = 1 << 20

    /// Every field finite and in range: the flags of `launcher train` and the options stored
    /// in a training state go through this one check. `name` turns a field name ("maxLR")
    /// into what the user knows it as ("--max-lr").
    public func validate(name: (String) -> String = { $0 }) throws {
        try OptionCheck.integer(batchSize, name("batchSize"), 1...Self.maxBatchSize)
        try OptionCheck.integer(epochs, name("epochs"), 1...1_000_000)
        if let maxSteps { try OptionCheck.integer(maxSteps, name("maxSteps"), 1...Int.max) }
        if let trainSubset { try OptionCheck.integer(trainSubset, name("trainSubset"), 1...Int.max) }
        try OptionCheck.number(maxLR, name("maxLR"), 0, 10, lowerOpen: true)
        try OptionCheck.number(pctStart, name("pctStart"), 0, 1, lowerOpen: true, upperOpen: true)
        try OptionCheck.number(divFactor, name("divFactor"), 1, 1e6)
        try OptionCheck.number(finalDivFactor, name("finalDivFactor"), 1, 1e12)
        try OptionCheck.number(baseMomentum, name("baseMomentum"), 0, 1, upperOpen: true)
        try OptionCheck.number(maxMomentum, name("maxMomentum"), 0, 1, upperOpen: true)
        try OptionCheck.number(beta2, name("beta2"), 0, 1, upperOpen: true)
        try OptionCheck.number(adamEps, name("adamEps"), 1e-30, 1)
        try OptionCheck.number(betaStart, name("betaStart"), 0, 1, lowerOpen: true, upperOpen: true)
        try OptionCheck.number(betaMax, name("betaMax"), max(1e-4, betaStart), 1, lowerOpen: true, upperOpen: true)
        try OptionCheck.integer(timesteps, name("timesteps"), 2...100_000)
        if let maxGradNorm { try OptionCheck.number(maxGradNorm, name("maxGradNorm"), 0, 1e12, lowerOpen: true) }
        if let labelDropout {
            guard conditional == true else {
                throw OptionError(name("labelDropout"), "applies to class-conditional training only: add \(name("conditional"))")
            }
            try OptionCheck.number(labelDropout, name("labelDropout"), 0, 1, upperOpen: true)
        }
        if conditional == true {
            guard let classCount, labelDropout != nil else {
                throw OptionError(name("conditional"), "needs the class count and the label dropout stored beside it (classCount, labelDropout)")
            }
            try OptionCheck.integer(classCount, name("classCount"), 1...(UNetConfig.maxClassEmbeds - 1))
        } else if let classCount {
            throw OptionError(name("classCount"), "is \(classCount) in an unconditional run; expected none")
        }
        if let emaDecay { try OptionCheck.number(emaDecay, name("emaDecay"), 0, 1, lowerOpen: true, upperOpen: true) }
        if let emaMinDecay { try OptionCheck.number(emaMinDecay, name("emaMinDecay"), 0, emaDecay ?? 1, upperOpen: emaDecay == nil) }
        if let emaUpdateAfterStep { try OptionCheck.integer(emaUpdateAfterStep, name("emaUpdateAfterStep"), 0...1_000_000_000) }
        if let emaPower { try OptionCheck.number(emaPower, name("emaPower"), 0, 10, lowerOpen: true) }
        if let emaInvGamma { try OptionCheck.number(emaInvGamma, name("emaInvGamma"), 0, 1e12, lowerOpen: true) }
        let emaTuning = [("emaMinDecay", emaMinDecay != nil), ("emaUpdateAfterStep", emaUpdateAfterStep != nil),
                         ("emaPower", emaPower != nil), ("emaInvGamma", emaInvGamma != nil)]
        if emaDecay == nil, let given = emaTuning.first(where: { $0.1 }) {
            throw OptionError(name(given.0), "tunes the EMA of the weights, which is off (\(name("emaDecay")) 0)")
        }
        if let timeBudget { try OptionCheck.number(timeBudget, name("timeBudget"), 0, WallDuration.maxSeconds, lowerOpen: true) }
        if let budgetSteps {
            guard timeBudget != nil else { throw OptionError(name("budgetSteps"), "is set without a time budget (timeBudget)") }
            try OptionCheck.integer(budgetSteps, name("budgetSteps"), 1...Int(Int32.max))
        }
        if let budgetPace {
            guard let budgetSteps else { throw OptionError(name("budgetPace"), "is set without a time budget's steps (budgetSteps)") }
            try OptionCheck.integer(budgetPace.scheduleSteps, name("budgetPace.scheduleSteps"), 1...Int(Int32.max))
            try budgetPace.validate(totalSteps: budgetSteps, name: name("budgetPace"))
        }
        if let lrWarmupSteps {
            try OptionCheck.integer(lrWarmupSteps, name("lrWarmupSteps"), 0...Int(Int32.max))
            if [nil, .oneCycle, .constant].contains(lrScheduler) {
                throw OptionError(name("lrWarmupSteps"), "applies to the cosine, linear and constant_with_warmup schedules; "
                                  + "give \(name("lrScheduler")) one of them")
            }
        }
        if predictionType == .epsilon {
            throw OptionError(name("predictionType"), "epsilon is stored as no value (the recipe's default), so runs keep their hash")
        }
        if let snrGamma { try OptionCheck.number(snrGamma, name("snrGamma"), 0, 1e6, lowerOpen: true) }
        if emaInvGamma != nil && emaPower == nil {
            throw OptionError(name("emaInvGamma"), "applies to the power warm-up only: give \(name("emaPower")) too")
        }
    }

    /// The plan on `datasetSize` images fits: the batch is not larger than the data and
    /// epochs x steps per epoch is countable.
    public func validatePlan(datasetSize: Int, name: (String) -> String = { $0 }) throws {
        guard batchSize <= datasetSize else {
            throw OptionError(name("batchSize"), "is \(batchSize), more than the \(datasetSize) training images")
        }
        _ = try OptionCheck.product(epochs, stepsPerEpoch(datasetSize: datasetSize),
                                    "\(name("epochs")) x steps per epoch (\(stepsPerEpoch(datasetSize: datasetSize)))")
    }

    /// The fields and their JSON values, by field name ("maxLR": "0.01"); nil fields absent.
    public var fields: [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(canonicalJSON.utf8)) as? [String: Any] else { return [:] }
        return object.mapValues { "\($0)" }
    }

    /// Fields that may differ between a saved run and its --resume: how far to go.
    public static let resumableFields: Set<String> = ["maxSteps"]

    /// A saved run's options, continued with `given` (the new command line's options, with
    /// `explicit` the fields actually given): a given field must equal the saved one, except
    /// the `resumableFields`, which `given` changes. The error names each conflict.
    public func resumed(with given: TrainingOptions, explicit: Set<String>, name: (String) -> String,
                        source: String) throws -> TrainingOptions {
        let saved = fields, new = given.fields
        let conflicts = explicit.subtracting(Self.resumableFields).sorted().filter { saved[$0] != new[$0] }
        guard conflicts.isEmpty else {
            let list = conflicts.map { "\(name($0)) \(new[$0] ?? "none") (saved: \(saved[$0] ?? "none"))" }
            throw OptionError(list.joined(separator: ", "), (conflicts.count == 1 ? "differs" : "differ") + " from the run being resumed (\(source)); "
                              + "leave them out to continue it as it was, or start a new run in another folder")
        }
        var o = self
        if explicit.contains("maxSteps") { o.maxSteps = given.maxSteps }
        return o
    }
}
