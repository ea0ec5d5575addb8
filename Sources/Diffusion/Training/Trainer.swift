import Foundation

/// Data-parallel DDPM training (the recipe in docs/recipe.md).
///
/// Every rank holds the same parameters. Global step s takes batch s of its epoch's shuffled
/// order; each rank runs its contiguous share of that batch. The noise and timestep of the
/// sample at position j of global step s come from stream (seed, s * batch + j), so what a
/// step computes does not depend on the number of ranks. Each rank's output gradient is
/// scaled by 1 / (global batch * pixels): the sum over ranks (one allreduce) is then exactly
/// the gradient of the global mean loss, uneven splits included. The target and min-SNR
/// weights (`TrainingTarget`) are per sample, so the same holds for every prediction type:
/// sample b's elements get weight_b · 2 / (global batch * pixels).
public final class Trainer {
    public let model: UNet2DModel
    public private(set) var options: TrainingOptions
    /// The prepared tensor, or the images streamed batch by batch.
    public let source: TrainingImages
    /// The images' classes (conditional runs; nil otherwise).
    public let labels: [Int]?
    /// The [height, width] the model trains on.
    public let sampleSize: [Int]
    public let group: Collectives
    public let schedule: NoiseSchedule
    public private(set) var lrSchedule: LearningRateSchedule
    public let adam: Adam
    /// The moving average of the parameters (`options.emaDecay`); nil when off.
    public let ema: EMA?
    /// Optimizer steps taken so far (the next step's index).
    public private(set) var step = 0

    /// Benchmarks: a barrier once every rank has finished backward, so `waitSeconds` is the
    /// time spent waiting for the slowest rank and `allreduceSeconds` the gradient sum left
    /// after that (with overlap, what backward did not hide).
    public var separateWaitFromAllreduce = false

    /// Floats per gradient bucket by default: 4 MiB, the fastest allreduce size over shared
    /// memory here (docs/scaling.md, "Allreduce latency and bandwidth").
    public static let defaultBucketFloats = 1 << 20

    /// Gradients are allreduced in buckets of this many floats (a few large calls).
    public var bucketFloats = Trainer.defaultBucketFloats

    /// Start each bucket's allreduce as soon as backward has finished its gradients, so the
    /// transfer overlaps the rest of backward; false sums everything after backward.
    public var overlapAllreduce = true

    public struct StepReport: Sendable {
        public let step: Int, epoch: Int, loss: Double, lr: Double, beta1: Double
        public let images: Int, seconds: Double, allreduceSeconds: Double, waitSeconds: Double
    }

    /// `images` [n, H, W, C] with C the model's in_channels, or one gray channel that each
    /// batch replicates into all of them (`Preprocess.replicatingChannels`). Throws when the
    /// model is not a denoiser (in_channels != out_channels), the images do not fit it, or a
    /// training step of `options.batchSize` images (split over the group) cannot fit in memory.
    /// A conditional run (`options.conditional`) needs `labels`, one class in 0..<classCount
    /// per image, and a model whose class table has classCount + 1 rows.
    /// `augmentation` (random crops along a long side, random flips: `ImagePreprocess`) turns
    /// the stored images [n, S, L, C] into each batch's [b, S, S, C]; nil: stored as trained.
    public convenience init(model: UNet2DModel, images: Tensor, labels: [Int]? = nil, augmentation: BatchAugmentation? = nil,
                            options: TrainingOptions, group: Collectives) throws {
        try self.init(model: model, source: .prepared(images, augmentation: augmentation), labels: labels, options: options, group: group)
    }

    /// As `init(model:images:...)`, the images prepared or streamed (`TrainingImages`); the
    /// memory check counts what the source holds and a streamed batch.
    public init(model: UNet2DModel, source: TrainingImages, labels: [Int]? = nil, options: TrainingOptions, group: Collectives) throws {
        let config = model.config
        let source = source.withoutIdentity()
        let shape = source.shape
        try config.checkDenoiser(for: "training")
        try options.checkConditioning(config, source: "model config")
        if let classes = options.conditioningClasses {
            guard let labels, labels.count == shape.first else {
                throw TrainingError.badImages("conditional training needs one class label per image: \(labels?.count ?? 0) labels "
                                              + "for \(shape.first ?? 0) images")
            }
            if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
                throw TrainingError.badImages("training label \(bad) outside 0...\(classes - 1) (classCount \(classes))")
            }
        }
        guard shape.count == 4, shape[0] >= 1, [1, config.inChannels].contains(shape[3]) else {
            throw TrainingError.badImages("training images have shape \(shape); expected [n >= 1, H, W, 1 or "
                                          + "\(config.inChannels) (in_channels)]")
        }
        let sampleSize = source.augmentation.map { [$0.size, $0.size] } ?? Array(shape[1..<3])
        try model.checkInput(shape: [1] + sampleSize + [config.inChannels], timesteps: [0],
                             classLabels: model.isClassConditional ? [0] : nil)
        let batch = min(options.batchSize, shape[0])  // EpochPlan's batches hold at most the data set
        let perRank = batch / group.size + (batch % group.size == 0 ? 0 : 1)
        var estimate = config.memoryEstimate(batch: perRank, height: sampleSize[0], width: sampleSize[1], training: true)
        estimate.otherBytes = source.residentBytes + source.batchBytes(count: perRank)
            + (options.emaDecay != nil ? model.store.count * 4 : 0)  // the EMA's copy of the parameters
        try MemoryBudget.check(estimate, for: "training with batch \(batch) (\(perRank) per rank)", group: group)
        self.model = model; self.source = source; self.options = options; self.group = group
        self.sampleSize = sampleSize
        self.labels = options.conditional == true ? labels : nil
        model.predictionType = options.predictionType ?? .epsilon
        schedule = NoiseSchedule(steps: options.timesteps, betaStart: options.betaStart, betaEnd: options.betaMax)
        lrSchedule = options.learningRateSchedule(datasetSize: shape[0])
        adam = Adam(count: model.store.count, eps: Float(options.adamEps))
        ema = options.emaSettings.map { EMA(settings: $0, count: model.store.count, parameters: model.store.values) }
    }

    /// Keeps the noise streams apart from the shuffle's, which are keyed (seed, epoch).
    static let noiseSeedSalt: UInt64 = 0x5A5A_0000_0001

    public var datasetSize: Int { source.count }
    public var stepsPerEpoch: Int { options.stepsPerEpoch(datasetSize: datasetSize) }
    public var totalSteps: Int { options.stepsToRun(datasetSize: datasetSize) }
    public var isFinished: Bool { step >= totalSteps }

    /// Rank 0's parameters everywhere; the EMA starts from them.
    public func broadcastParameters() throws {
        try group.broadcast(model.store.valueBuffer, root: 0)
        ema?.reset(to: model.store.values)
    }

    /// Continues from a checkpoint's step, Adam moments and EMA (parameters set by the caller).
    public func restore(step: Int, adamM: UnsafePointer<Float>, adamV: UnsafePointer<Float>, ema average: UnsafePointer<Float>? = nil) {
        self.step = step
        adam.restore(step: step, m: adamM, v: adamV)
        if let average { ema?.reset(to: average) }
    }

    /// Fixes the length of a time-budgeted run (`TimeBudget`): the learning-rate schedule is
    /// planned anew for `steps`. Every rank must pass the same count, before the first step.
    public func fixBudgetSteps(_ steps: Int) throws {
        guard options.awaitsBudgetPlan, self.step == 0 else {
            throw TrainingError.configurationMismatch("the steps of a time budget are fixed once, before the first step")
        }
        var o = options
        o.budgetSteps = steps
        try o.validate()
        options = o
        lrSchedule = o.learningRateSchedule(datasetSize: datasetSize)
    }

    /// Changes a time-budgeted run's length to `steps` at the current step (`TimeBudget`):
    /// the rest of the learning-rate schedule is spread over the steps left (`SchedulePace`).
    /// Every rank must pass the same count at the same step.
    public func replanBudgetSteps(_ steps: Int) throws {
        guard let old = options.budgetSteps, steps >= step else {
            throw TrainingError.configurationMismatch("a time budget is re-planned after its first plan, to no fewer steps than taken (\(steps) at step \(step))")
        }
        var o = options
        o.budgetPace = (o.budgetPace ?? SchedulePace(scheduleSteps: old)).replanned(at: step, from: old)
        o.budgetSteps = steps
        try o.validate()
        options = o
    }

    private var plan: EpochPlan?

    /// Dataset indices of global batch `step` (all ranks compute the same).
    public func batchIndices(step: Int) -> [Int] {
        let epoch = step / stepsPerEpoch
        if plan?.epoch != epoch {
            plan = EpochPlan(datasetSize: datasetSize, globalBatch: options.batchSize, seed: options.seed,
                             epoch: epoch, dropLast: options.dropLast)
        }
        return Array(plan!.batch(step % stepsPerEpoch))
    }

    /// One optimizer step over the next global batch.
    public func trainStep() throws -> StepReport {
        let t0 = ResourceUsage.now()
        let indices = batchIndices(step: step)
        let globalBatch = indices.count
        let mine = EpochPlan.share(count: globalBatch, rank: group.rank, size: group.size)
        // Elements per image as the model sees it (gray data replicated into its channels).
        let shape = [mine.count] + sampleSize + [model.config.inChannels]
        let pixels = shape[1] * shape[2] * shape[3]

        // 1. q_sample: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, per sample
        let eps = Tensor(uninitialized: shape)
        var timesteps = [Int](repeating: 0, count: mine.count)
        let keyBase = UInt64(step) &* UInt64(options.batchSize)
        for (local, j) in mine.enumerated() {
            var rng = RandomStream(seed: options.seed ^ Trainer.noiseSeedSalt, key: keyBase &+ UInt64(j))
            timesteps[local] = rng.int(below: options.timesteps)
            rng.fillNormal(eps.data + local * pixels, count: pixels)
        }
        // Conditional runs: each sample's class, or the null class where its dropout draw says.
        let classLabels = options.conditioningClasses.map { classes in
            mine.map { j in
                ConditionalTraining.trainingLabel(labels![indices[j]], seed: options.seed, key: keyBase &+ UInt64(j),
                                                  dropout: options.labelDropout ?? 0, nullClass: classes)
            }
        }
        // This rank's samples only: a streamed source prepares just these.
        var x0 = source.batch(indices: Array(indices[mine]), keys: mine.map { keyBase &+ UInt64($0) }, seed: options.seed)
        if x0.shape[3] != shape[3] { x0 = Preprocess.replicatingChannels(x0, to: shape[3]) }
        let xt = schedule.qSample(x0: x0, eps: eps, t: timesteps)

        // 2. forward, weighted MSE against the target (eps by default), backward; gradient
        //    buckets start their allreduce (top of the store first) as soon as backward has
        //    finished them. Weights are 1 without --snr-gamma: the recipe's loss, bit for bit.
        model.store.zeroGrads()
        let buckets = GradientBuckets(gradients: model.store.gradBuffer, bucketFloats: bucketFloats, step: step)
        var localLoss = 0.0
        if !mine.isEmpty {
            let prediction = options.predictionType ?? .epsilon
            let target = TrainingTarget.targets(prediction, x0: x0, eps: eps, t: timesteps, schedule: schedule)
            let weights = TrainingTarget.weights(prediction, t: timesteps, gamma: options.snrGamma, schedule: schedule)
            let out = try model.forward(xt, timesteps: timesteps.map(Float.init), classLabels: classLabels, recordForBackward: true)
            let (sum, dOut) = TrainingTarget.weightedSquaredError(output: out, target: target, weights: weights,
                                                                  gradientScale: 2 / Float(globalBatch * pixels))
            localLoss = sum
            model.backward(dOut, gradientsReady: overlapAllreduce ? { buckets.gradientsReady(downTo: $0, group: self.group) } : nil)
        }

        // 3. sum gradients and the loss over ranks
        var t1 = ResourceUsage.now()
        var waitSeconds = 0.0
        if separateWaitFromAllreduce {
            group.setStallContext(step: step, part: "barrier after backward")
            try group.barrier()
            let t = ResourceUsage.now()
            waitSeconds = t - t1
            t1 = t
        }
        try buckets.startRest(group: group)
        try buckets.wait()
        group.setStallContext(step: step, part: "sum of the loss")
        let loss = try group.allreduceSum([localLoss])[0] / Double(globalBatch * pixels)
        let allreduceSeconds = ResourceUsage.now() - t1
        guard loss.isFinite else {
            throw TrainingError.nonFiniteLoss(step: step, loss: loss)
        }

        // 4. optional clipping, then Adam with the one-cycle learning rate and beta1
        if let maxNorm = options.maxGradNorm {
            GradientClipping.clip(model.store.grads, count: model.store.count, maxNorm: maxNorm)
        }
        let (lr, beta1) = lrSchedule.values(at: options.schedulePosition(step: step, datasetSize: datasetSize))
        adam.update(params: model.store.values, grads: model.store.grads, lr: lr, beta1: beta1, beta2: options.beta2)
        ema?.update(parameters: model.store.values, afterStep: step + 1)
        let report = StepReport(step: step, epoch: step / stepsPerEpoch, loss: loss, lr: lr, beta1: beta1,
                                images: globalBatch, seconds: ResourceUsage.now() - t0, allreduceSeconds: allreduceSeconds,
                                waitSeconds: waitSeconds)
        step += 1
        return report
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, loss: Double)
    case configurationMismatch(String)
    case badCheckpoint(String)
    case badImages(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let loss):
            return "loss became \(loss) at step \(step); stopping (the last checkpoint is kept). Try a lower --max-lr."
        case .configurationMismatch(let s): return "ranks disagree on the configuration: \(s)"
        case .badCheckpoint(let s), .badImages(let s): return s
        }
    }
}
