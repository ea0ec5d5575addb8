import Foundation

/// Where a training run starts, agreed by every rank: a fresh model, a diffusers folder's
/// weights (`--init-from`), or a run's training state (`--resume`, read by rank 0 and shared).
public struct TrainingStart {
    public private(set) var options: TrainingOptions
    public let config: UNetConfig
    /// The first step to take (the saved step when resuming).
    public let step: Int
    /// Rank 0 of a resumed run: the state read from disk.
    let state: TrainingCheckpoint.State?
    /// Where a resumed run's state came from (for messages); nil for a new run.
    public let statePath: String?

    public static func new(options: TrainingOptions, config: UNetConfig) -> TrainingStart {
        TrainingStart(options: options, config: config, step: 0, state: nil, statePath: nil)
    }

    /// Rank 0 reads the state (`TrainingCheckpoint.load` checks its options are in range and
    /// every number finite); its step, options and config reach every rank, and so does its
    /// error if it cannot.
    public static func resume(statePath path: String, group: Collectives) throws -> TrainingStart {
        let state = try group.rootLoads { try TrainingCheckpoint.load(from: path) }
        let summary = try group.broadcast(state.map { Summary(step: $0.step, options: $0.options, config: $0.config.toJSON()).json } ?? "")
        guard let shared = try? JSONDecoder().decode(Summary.self, from: Data(summary.utf8)) else {
            throw FileError(path: path, "rank 0 could not share the state's summary")
        }
        let config = try UNetConfig(json: Array(shared.config.utf8), path: path + " (metadata 'config')")
        return TrainingStart(options: shared.options, config: config, step: shared.step, state: state, statePath: path)
    }

    struct Summary: Codable {
        let step: Int, options: TrainingOptions, config: String
        var json: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self) }
    }

    /// A resumed run's options continued with the command line's (see `TrainingOptions.resumed`).
    public mutating func continueWith(_ given: TrainingOptions, explicit: Set<String>, name: (String) -> String) throws {
        options = try options.resumed(with: given, explicit: explicit, name: name, source: statePath ?? "the saved run")
    }

    /// The images a run trains on, their classes, and how batches are cut from them.
    public struct PreparedData {
        public let source: TrainingImages
        public let labels: [Int]?
        /// nil for Fashion-MNIST (the recipe's own resize).
        public let settings: PreprocessSettings?
        /// The Float32 bytes of the whole prepared set, held or not.
        public var preparedBytes: CheckedSize { CheckedSize.product(source.shape) * 4 }
        public var augmentation: BatchAugmentation? { source.augmentation }
    }

    /// The images this run trains on, and their classes: the split's first `trainSubset` (or all).
    public func loadData(directory: String) throws -> PreparedData {
        let data = try FashionMNIST.load(split: .train, directory: directory)
        let count = min(options.trainSubset ?? data.count, data.count)
        return PreparedData(source: .prepared(Preprocess.images(data, indices: options.trainSubset.map { _ in Array(0..<count) }),
                                              augmentation: nil),
                            labels: data.labels(at: Array(0..<count)), settings: nil)
    }

    /// `data` (--data) prepared for this run's model: its first `trainSubset` images (or all),
    /// resized to the config's sample_size and converted to its in_channels: prepared at once
    /// when that Float32 tensor takes at most `memoryLimit` bytes (nil: no limit), else
    /// streamed batch by batch (`TrainingImages`). Checks that a conditional run's model has
    /// a class row for every class of the data.
    public func prepare(_ data: TrainingData, centerCrop: Bool, randomFlip: Bool, memoryLimit: Int? = nil) throws -> PreparedData {
        if let classes = options.conditioningClasses {
            guard let dataClasses = data.classCount, data.labels != nil else {
                throw DataSetError("\(data.source) has no labels: a conditional run needs them (class subfolders, --labels "
                                   + "for a .npy, or an IDX labels file)")
            }
            guard dataClasses <= classes else {
                throw DataSetError("\(data.source) has \(dataClasses) classes but the model's class table holds \(classes) "
                                   + "(num_class_embeds \(config.numClassEmbeds.map(String.init) ?? "null") = classes + the null class): "
                                   + "expected num_class_embeds of at least \(dataClasses + 1)")
            }
        }
        let count = min(options.trainSubset ?? data.count, data.count)
        let settings = PreprocessSettings(size: config.sampleSize, channels: config.inChannels, centerCrop: centerCrop, randomFlip: randomFlip)
        let labels = data.labels.map { Array($0.prefix(count)) }
        let layout = try ImagePreprocess.layout(data.images, indices: Array(0..<count), settings: settings)
        if let memoryLimit, (CheckedSize.product(layout.shape) * 4).value.map({ $0 > memoryLimit }) ?? true {
            return PreparedData(source: .streamed(try StreamedImages(data.images, count: count, settings: settings)), labels: labels,
                                settings: settings)
        }
        let (images, augmentation) = try ImagePreprocess.prepare(data.images, indices: Array(0..<count), settings: settings)
        return PreparedData(source: .prepared(images, augmentation: augmentation.isIdentity ? nil : augmentation), labels: labels,
                            settings: settings)
    }

    /// The plan on `datasetSize` images fits, and a resumed step lies within it.
    public func validatePlan(datasetSize: Int, name: (String) -> String) throws {
        try options.validatePlan(datasetSize: datasetSize, name: name)
        let planned = options.plannedSteps(datasetSize: datasetSize)
        if let statePath, !(0...planned).contains(step) {
            throw FileError(path: statePath, "step \(step) lies outside the run's plan of \(planned) steps")
        }
    }

    /// The trainer on every rank, starting where this says: rank 0 sets the parameters (the
    /// state's, a diffusers folder's, or a fresh initialisation) and they are broadcast, with
    /// Adam's moments when resuming. Collective.
    public func makeTrainer(images: Tensor, labels: [Int]? = nil, augmentation: BatchAugmentation? = nil, initFrom: String?,
                            bucketFloats: Int, group: Collectives) throws -> Trainer {
        try makeTrainer(source: .prepared(images, augmentation: augmentation), labels: labels, initFrom: initFrom,
                        bucketFloats: bucketFloats, group: group)
    }

    /// As `makeTrainer(images:...)`, from prepared or streamed images.
    public func makeTrainer(source: TrainingImages, labels: [Int]? = nil, initFrom: String?,
                            bucketFloats: Int, group: Collectives) throws -> Trainer {
        let unet = try UNet2DModel(config: config)
        _ = try group.rootLoads {
            if let state {
                unet.store.values.update(from: state.parameters.data, count: unet.store.count)
            } else if let initFrom {
                let path = initFrom + "/" + DiffusersFolder.weightsName
                try DiffusersFolder.loadParameters(into: unet, from: path)   // refuses NaN/Inf
            } else {
                unet.initializeParameters(seed: options.seed)
            }
        }
        let trainer = try Trainer(model: unet, source: source, labels: labels, options: options, group: group)
        trainer.bucketFloats = bucketFloats
        try trainer.broadcastParameters()
        if statePath != nil {
            let m = state?.adamM ?? Tensor(shape: [unet.store.count])
            let v = state?.adamV ?? Tensor(shape: [unet.store.count])
            try group.broadcast(m.buffer, root: 0)
            try group.broadcast(v.buffer, root: 0)
            var average: Tensor? = nil
            if options.emaDecay != nil {
                let ema = state?.ema ?? Tensor(shape: [unet.store.count])
                try group.broadcast(ema.buffer, root: 0)
                average = ema
            }
            trainer.restore(step: step, adamM: m.data, adamV: v.data, ema: average?.data)
        }
        return trainer
    }

    /// Every rank runs rank 0's options and model config (a config.json read on each rank
    /// could differ between hosts). Collective.
    public func checkSameOnEveryRank(group: Collectives) throws {
        try RankAgreement.check([("training options", options.canonicalJSON), ("model config", config.toJSON())], group: group)
    }
}
