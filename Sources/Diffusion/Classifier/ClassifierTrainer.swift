import Foundation

/// What `ClassifierTrainer` needs besides the data.
public struct ClassifierTrainingOptions: Sendable, Equatable, Codable {
    public var batchSize = 128
    public var epochs = 10
    /// Peak of the one-cycle schedule (PyTorch `OneCycleLR` defaults otherwise).
    public var maxLR = 3e-3
    public var beta2 = 0.999
    public var adamEps = 1e-8
    public var seed: UInt64 = 0
    public var augmentation = Augmentation()

    public init() {}

    public func stepsPerEpoch(datasetSize n: Int) -> Int { (n + batchSize - 1) / batchSize }
}

/// Data-parallel training of the classifier, the pattern of `Trainer`: every rank holds the
/// same parameters; global batch s of the epoch's shuffled order is split into contiguous
/// shares; each rank's loss gradient is scaled by 1 / global batch, so one SUM allreduce of
/// the gradients gives the gradient of the global mean loss. Adam under a one-cycle schedule.
public final class ClassifierTrainer {
    public let model: FashionClassifier
    public let images: Tensor
    public let labels: [Int]
    public let options: ClassifierTrainingOptions
    public let group: Collectives
    public let lrSchedule: OneCycleLR
    public let adam: Adam
    public private(set) var step = 0

    public struct StepReport: Sendable {
        public let step: Int, epoch: Int
        /// Mean loss and accuracy over the global batch (augmented images).
        public let loss: Double, accuracy: Double
        public let lr: Double, images: Int, seconds: Double
    }

    /// Keeps augmentation streams apart from the shuffle's, which are keyed (seed, epoch).
    static let augmentationSalt: UInt64 = 0xA096_0000_0001

    public init(model: FashionClassifier, images: Tensor, labels: [Int], options: ClassifierTrainingOptions,
                group: Collectives) {
        precondition(images.shape.first == labels.count, "\(labels.count) labels for images \(images.shape)")
        self.model = model; self.images = images; self.labels = labels; self.options = options; self.group = group
        lrSchedule = OneCycleLR(maxLR: options.maxLR, totalSteps: options.epochs * options.stepsPerEpoch(datasetSize: labels.count))
        adam = Adam(count: model.store.count, eps: Float(options.adamEps))
    }

    public var datasetSize: Int { labels.count }
    public var stepsPerEpoch: Int { options.stepsPerEpoch(datasetSize: datasetSize) }
    public var totalSteps: Int { lrSchedule.totalSteps }
    public var isFinished: Bool { step >= totalSteps }

    /// Rank 0's parameters everywhere.
    public func broadcastParameters() throws {
        try group.broadcast(model.store.valueBuffer, root: 0)
    }

    private var plan: EpochPlan?

    /// One optimizer step over the next global batch.
    public func trainStep() throws -> StepReport {
        let t0 = ResourceUsage.now()
        let epoch = step / stepsPerEpoch
        if plan?.epoch != epoch {
            plan = EpochPlan(datasetSize: datasetSize, globalBatch: options.batchSize, seed: options.seed, epoch: epoch)
        }
        let indices = Array(plan!.batch(step % stepsPerEpoch))
        let globalBatch = indices.count
        let mine = EpochPlan.share(count: globalBatch, rank: group.rank, size: group.size)

        // 1. this rank's images, augmented with streams keyed by their place in the global step
        let x = images.gather(Array(indices[mine]))
        let keyBase = UInt64(step) &* UInt64(options.batchSize)
        options.augmentation.apply(to: x, keys: mine.map { keyBase &+ UInt64($0) },
                                   seed: options.seed ^ Self.augmentationSalt)
        let y = mine.map { labels[indices[$0]] }

        // 2. forward, cross-entropy, backward
        model.store.zeroGrads()
        var local = [0.0, 0.0]
        if !mine.isEmpty {
            let logits = model.forward(x, recordForBackward: true).logits
            let f = SoftmaxCrossEntropy.forward(logits: logits, labels: y)
            local = [f.lossSum, Double(f.correct)]
            model.backward(SoftmaxCrossEntropy.backward(logits: logits, labels: y, scale: 1 / Float(globalBatch)))
        }

        // 3. sum gradients, loss and hits over ranks
        try group.allreduceSum(model.store.gradBuffer)
        let totals = try group.allreduceSum(local)
        let loss = totals[0] / Double(globalBatch)
        guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: step, loss: loss) }

        // 4. Adam under the one-cycle learning rate and beta1
        let (lr, beta1) = lrSchedule.values(at: step)
        adam.update(params: model.store.values, grads: model.store.grads, lr: lr, beta1: beta1, beta2: options.beta2)
        let report = StepReport(step: step, epoch: epoch, loss: loss, accuracy: totals[1] / Double(globalBatch),
                                lr: lr, images: globalBatch, seconds: ResourceUsage.now() - t0)
        step += 1
        return report
    }
}

/// Accuracy and mean loss of a classifier on a labelled set.
public struct ClassifierEvaluation: Sendable {
    public let count: Int, correct: Int
    public let loss: Double
    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : 0 }

    /// Each rank evaluates its contiguous share of the set; one allreduce sums the counts, so
    /// every rank gets the whole set's result.
    public static func evaluate(_ model: FashionClassifier, images: Tensor, labels: [Int], group: Collectives,
                                batchSize: Int = 256) throws -> ClassifierEvaluation {
        precondition(images.shape.first == labels.count, "\(labels.count) labels for images \(images.shape)")
        let mine = EpochPlan.share(count: labels.count, rank: group.rank, size: group.size)
        var local = [0.0, 0.0, Double(mine.count)]
        if !mine.isEmpty {
            let logits = model.evaluate(images.gather(Array(mine)), batchSize: batchSize).logits
            let f = SoftmaxCrossEntropy.forward(logits: logits, labels: Array(labels[mine]))
            local[0] = f.lossSum; local[1] = Double(f.correct)
        }
        let totals = try group.allreduceSum(local)
        let count = Int(totals[2])
        return ClassifierEvaluation(count: count, correct: Int(totals[1]), loss: count > 0 ? totals[0] / Double(count) : 0)
    }
}
