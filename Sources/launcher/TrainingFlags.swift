import ArgumentParser
import Diffusion

/// The hyperparameters of `launcher train`, one flag per `TrainingOptions` field. All are
/// Optional: the defaults live in `TrainingOptions` alone, and `--resume` can tell a flag that
/// was given (it must match the saved run) from one that was not (the saved value stands).
struct TrainingFlags: ParsableArguments {
    static let defaults = TrainingOptions()

    @Option(help: ArgumentHelp("Start from a named set of options: recipe (the published recipe, the default) or fast (the "
                               + "recipe study's best for a run of minutes, docs/results.md); flags given beside it override it.",
                               valueName: TrainingRecipe.allCases.map(\.rawValue).joined(separator: "|")))
    var recipe: TrainingRecipe?
    @Option(help: "Global batch size, split across ranks (default \(defaults.batchSize)).") var batchSize: Int?
    @Option(help: "Epochs: the learning-rate schedule is planned for these (default \(defaults.epochs)).") var epochs: Int?
    @Option(help: "Stop after this many optimizer steps (the schedule still spans --epochs); may change on --resume.")
    var maxSteps: Int?
    @Option(help: ArgumentHelp("Train for this much wall time instead of --epochs: the step rate is measured on the first "
                               + "steps and the schedule planned for the steps that fit (evaluations not counted; a resumed "
                               + "run keeps its plan). Units s, m, h: 90s, 10m, 1h30m.", valueName: "duration"))
    var timeBudget: String?
    @Option(help: "Use only the first N training images (smoke tests).") var trainSubset: Int?
    @Option(help: ArgumentHelp("Learning-rate schedule: one_cycle (the recipe's PyTorch OneCycleLR), or diffusers' cosine, "
                               + "linear, constant or constant_with_warmup (peak --max-lr, Adam beta1 0.95 as diffusers' trainer).",
                               valueName: LRSchedulerName.allCases.map(\.rawValue).joined(separator: "|")))
    var lrScheduler: LRSchedulerName?
    @Option(help: "Warm-up steps of cosine, linear and constant_with_warmup (default 5% of the planned steps).")
    var lrWarmupSteps: Int?
    @Option(help: "Peak learning rate, in (0, 10] (default \(defaults.maxLR)).") var maxLR: Double?
    @Option(help: "OneCycle warm-up fraction, in (0, 1) (default \(defaults.pctStart)).") var pctStart: Double?
    @Option(help: "OneCycle: initial lr = max lr / div-factor, in [1, 1e6] (default \(defaults.divFactor)).") var divFactor: Double?
    @Option(help: "OneCycle: final lr = initial lr / final-div-factor, in [1, 1e12] (default \(defaults.finalDivFactor)).")
    var finalDivFactor: Double?
    @Option(help: "Adam beta2, in [0, 1) (default \(defaults.beta2)).") var beta2: Double?
    @Option(help: "Adam epsilon, in [1e-30, 1] (default \(defaults.adamEps)).") var adamEps: Double?
    @Option(help: ArgumentHelp("Clip the global gradient norm to this before each Adam step (default: no clipping, as the recipe).",
                               valueName: "norm")) var maxGradNorm: Double?
    @Option(help: "Last beta of the linear noise schedule, in (1e-4, 1) (default \(defaults.betaMax)).") var betaMax: Double?
    @Option(help: "Seed for initialisation, shuffling and noise (default \(defaults.seed)).") var seed: UInt64?
    @Flag(inversion: .prefixedNo, help: ArgumentHelp("Class-conditional training on the data set's labels, for classifier-free "
          + "guidance (the model gets num_class_embeds = classes + 1; docs/conditional.md). Default: unconditional, as the recipe."))
    var conditional: Bool?
    @Option(help: ArgumentHelp("With --conditional: probability of training an image on the null class instead of its own, "
            + "in [0, 1) (default \(ConditionalTraining.defaultLabelDropout)).")) var labelDropout: Double?
    @Option(help: ArgumentHelp("EMA of the weights (diffusers' EMAModel): largest decay, in [0, 1); 0 turns it off "
                               + "(default \(defaults.emaDecay ?? 0)). Written as model-ema/ beside model/.", valueName: "decay"))
    var emaDecay: Double?
    @Option(help: "EMA: smallest decay after the first update (diffusers' min_decay), in [0, --ema-decay] (default 0).")
    var emaMinDecay: Double?
    @Option(help: "EMA: copy the weights for this many steps after the first before averaging (update_after_step; default 0).")
    var emaUpdateAfterStep: Int?
    @Option(help: "EMA: warm-up 1 - (1 + s/inv-gamma)^-power instead of (1 + s)/(10 + s) (use_ema_warmup), power in (0, 10].")
    var emaPower: Double?
    @Option(help: "EMA: inv_gamma of the --ema-power warm-up, in (0, 1e12] (default 1).") var emaInvGamma: Double?
    @Option(help: ArgumentHelp("What the model learns to output, as diffusers' prediction_type: epsilon (the noise, default), "
                               + "v_prediction (v = sqrt(abar) eps - sqrt(1 - abar) x0) or sample (x0). Stored in the run's "
                               + "scheduler/scheduler_config.json, which sampling reads.", valueName: PredictionType.names))
    var predictionType: PredictionType?
    @Option(help: ArgumentHelp("Weight each sample's loss by min-SNR-gamma (Hang et al. 2023; diffusers' --snr_gamma; 5 is "
                               + "the paper's choice), gamma in (0, 1e6] (default: no weighting).", valueName: "gamma"))
    var snrGamma: Double?

    /// The given flags over `base` (the defaults, or a saved run's options).
    func applied(to base: TrainingOptions? = nil) -> TrainingOptions {
        var o = base ?? recipe?.options ?? Self.defaults
        if let batchSize { o.batchSize = batchSize }
        if let epochs { o.epochs = epochs }
        if let maxSteps { o.maxSteps = maxSteps }
        if let timeBudget { o.timeBudget = (try? WallDuration(parsing: timeBudget, name: "--time-budget"))?.seconds }
        if let trainSubset { o.trainSubset = trainSubset }
        if let maxLR { o.maxLR = maxLR }
        if let lrScheduler { o.lrScheduler = lrScheduler == .oneCycle ? nil : lrScheduler }
        if let lrWarmupSteps { o.lrWarmupSteps = lrWarmupSteps }
        if let pctStart { o.pctStart = pctStart }
        if let divFactor { o.divFactor = divFactor }
        if let finalDivFactor { o.finalDivFactor = finalDivFactor }
        if let beta2 { o.beta2 = beta2 }
        if let adamEps { o.adamEps = adamEps }
        if let maxGradNorm { o.maxGradNorm = maxGradNorm }
        if let betaMax { o.betaMax = betaMax }
        if let seed { o.seed = seed }
        if let conditional { o.conditional = conditional ? true : nil }
        if o.conditional == true {
            o.classCount = o.classCount ?? FashionMNIST.classNames.count
            o.labelDropout = labelDropout ?? o.labelDropout ?? ConditionalTraining.defaultLabelDropout
        } else {
            o.classCount = nil
            o.labelDropout = labelDropout  // refused by validate(): it needs --conditional
        }
        if let emaDecay { o.emaDecay = emaDecay == 0 ? nil : emaDecay }
        if let emaMinDecay { o.emaMinDecay = emaMinDecay }
        if let emaUpdateAfterStep { o.emaUpdateAfterStep = emaUpdateAfterStep }
        if let emaPower { o.emaPower = emaPower }
        if let emaInvGamma { o.emaInvGamma = emaInvGamma }
        if let predictionType { o.predictionType = predictionType == .epsilon ? nil : predictionType }
        if let snrGamma { o.snrGamma = snrGamma }
        return o
    }

    func validate() throws {
        if let emaDecay { try OptionCheck.number(emaDecay, "--ema-decay", 0, 1, upperOpen: true) }
        if let lrScheduler, lrScheduler != .oneCycle,
           let given = [("--pct-start", pctStart), ("--div-factor", divFactor), ("--final-div-factor", finalDivFactor)]
               .first(where: { $0.1 != nil }) {
            throw OptionError(given.0, "shapes the one_cycle schedule, not --lr-scheduler \(lrScheduler.rawValue)")
        }
        if let timeBudget {
            _ = try WallDuration(parsing: timeBudget, name: "--time-budget")
            if epochs != nil { throw OptionError("--time-budget", "sets the schedule's length: leave out --epochs") }
        }
        try applied().validate(name: flagName)
    }
}

extension LRSchedulerName: ExpressibleByArgument {}

extension TrainingRecipe: ExpressibleByArgument {}

extension TrainingFlags {
    /// The option fields given on the command line, by a flag or through --recipe.
    func explicitFields() -> Set<String> {
        givenFields().subtracting(["recipe"]).union(recipe?.fields ?? [])
    }
}

/// --bucket-mib, shared by `train` and `bench train`: the gradient allreduce bucket in MiB.
struct BucketOption: ParsableArguments {
    static let floatsPerMiB = 262_144.0
    static let defaultMiB = Double(Trainer.defaultBucketFloats) / floatsPerMiB

    @Option(help: ArgumentHelp("Gradient allreduce bucket in MiB, fractions allowed, in (0, 1024] (default \(defaultMiB)); "
                               + "each bucket starts as soon as backward has finished it.", valueName: "MiB"))
    var bucketMib: Double?

    func validate() throws {
        if let bucketMib { try OptionCheck.number(bucketMib, "--bucket-mib", 0, 1024, lowerOpen: true) }
    }

    /// Floats per bucket (at least one).
    var bucketFloats: Int { max(1, Int(((bucketMib ?? Self.defaultMiB) * Self.floatsPerMiB).rounded())) }
}
