import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct TrainClassifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: "Train the classifier whose features FID and KID use (Fashion-MNIST, or your data), data-parallel over MPI ranks.",
        discussion: """
        Every rank holds the whole classifier and runs its share of each global batch; gradients \
        are summed by one allreduce before every Adam step (one-cycle learning rate). Training \
        images get a random shift of up to --max-shift pixels (and a horizontal flip with --flip), keyed by \
        (seed, step, position), so a run gives the same classifier at any rank count. After each \
        epoch the test accuracy is printed and --out gets config.json, model.safetensors (each \
        written atomically) and metrics.csv.

        --data trains one on your labelled images instead (a class-folder set, a .npy with --labels, \
        an IDX pair; docs/data.md), for `fid --reference PATH --classifier DIR`: one image in ten \
        (indices 9, 19, ...) is held out for the accuracy, the rest train; images are resized and \
        centre-cropped to --image-size and keep the data's channels. The folder's data.json records \
        the data (content hash, classes), so the classifier is refused for other data.

        Example: mpirun -np 2 --bind-to none launcher train-classifier --out models/fashion-classifier
        Example: launcher train-classifier --data digits/ --out runs/digits-classifier --epochs 20
        """)

    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @OptionGroup(title: "Your own data (docs/data.md)") var dataFlags: DataFlags
    @Option(help: "With --data: the image size the classifier takes (the diffusion model's sample_size).") var imageSize = 32
    @Option(help: "Output folder (default runs/classifier-<date-time>).") var out: String?
    @Option(help: "Use only the first N training images (smoke tests).") var trainSubset: Int?
    @Option(help: "Use only the first N test images (smoke tests).") var testSubset: Int?
    @Option(parsing: .upToNextOption, help: "Channels per stage (e.g. --channels 32 64 128), each in 1...4096.")
    var channels = [32, 64, 128]
    @Option(parsing: .upToNextOption, help: "Conv blocks per stage, each in 1...64.") var blocks = [1, 2, 2]
    @Option(help: "GroupNorm groups, in 1...4096.") var groups = 8
    @Option(help: "Epochs (the learning-rate schedule is planned for these), in 1...100000.") var epochs = 12
    @Option(help: "Global batch size, split across ranks.") var batchSize = 128
    @Option(help: "One-cycle peak learning rate (Adam), in (0, 10].") var maxLR = 3e-3
    @Option(help: "Augmentation: largest random shift in pixels (0: none), in 0...15.") var maxShift = 1
    @Flag(help: "Augmentation: random horizontal flips too (off by default: Fashion-MNIST's shoes all face one way).")
    var flip = false
    @Option(help: "Seed for initialisation, shuffling and augmentation.") var seed: UInt64 = 0
    @OptionGroup var threads: ThreadsOption

    func config() throws -> ClassifierConfig {
        var c = ClassifierConfig()
        c.channels = channels
        c.blocksPerStage = blocks
        c.normNumGroups = groups
        do { try c.validate(path: "--channels/--blocks/--groups") } catch { throw ValidationError("\(error)") }
        return c
    }

    func options() -> ClassifierTrainingOptions {
        var o = ClassifierTrainingOptions()
        o.batchSize = batchSize; o.epochs = epochs; o.maxLR = maxLR; o.seed = seed
        o.augmentation = Augmentation(flip: flip, maxShift: maxShift)
        return o
    }

    func validate() throws {
        for c in channels { try OptionCheck.integer(c, "--channels", 1...4096) }
        for b in blocks { try OptionCheck.integer(b, "--blocks", 1...64) }
        try OptionCheck.integer(groups, "--groups", 1...4096)
        _ = try config()
        try OptionCheck.integer(epochs, "--epochs", 1...100_000)
        try OptionCheck.integer(batchSize, "--batch-size", 1...TrainingOptions.maxBatchSize)
        try OptionCheck.number(maxLR, "--max-lr", 0, 10, lowerOpen: true)
        try OptionCheck.integer(maxShift, "--max-shift", 0...15)
        if let trainSubset { try OptionCheck.integer(trainSubset, "--train-subset", 1...Int.max) }
        if let testSubset { try OptionCheck.integer(testSubset, "--test-subset", 1...Int.max) }
    }

    /// --data: one image in ten held out for testing, the rest (the first --train-subset of
    /// them) for training; the config takes the data's channels, classes and --image-size.
    func split(_ data: TrainingData, config: inout ClassifierConfig) throws -> ((images: Tensor, labels: [Int]), (images: Tensor, labels: [Int])) {
        guard let labels = data.labels, let names = data.classNames else {
            throw ValidationError("\(data.source) has no labels: a classifier learns classes, so it needs them (a folder with one "
                                  + "subfolder per class, a .npy with --labels, or an IDX pair). Without a classifier of your kind "
                                  + "of data, FID against it cannot be computed")
        }
        guard data.count >= 10 else {
            throw ValidationError("\(data.source) has \(data.count) images: expected at least 10 (one in ten is held out to test)")
        }
        config.inChannels = data.channels
        config.imageSize = imageSize
        config.numClasses = names.count
        do { try config.validate(path: "--data \(data.source)") } catch { throw ValidationError("\(error)") }
        let testIndices = (0..<data.count).filter { $0 % 10 == 9 }
        var trainIndices = (0..<data.count).filter { $0 % 10 != 9 }
        if let trainSubset { trainIndices = Array(trainIndices.prefix(trainSubset)) }
        let settings = PreprocessSettings(size: imageSize, channels: data.channels, centerCrop: true)
        func prepared(_ indices: [Int]) throws -> (images: Tensor, labels: [Int]) {
            (try ImagePreprocess.prepare(data.images, indices: indices, settings: settings).0, indices.map { labels[$0] })
        }
        return (try prepared(trainIndices), try prepared(Array(testIndices.prefix(testSubset ?? testIndices.count))))
    }

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "train-classifier")) { comm in
            let threads = try threads.configure(comm)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("classifier-"))
            var config = try config()
            let options = options()

            func load(_ split: FashionMNIST.Split, first: Int?) throws -> (images: Tensor, labels: [Int]) {
                let data = try FashionMNIST.load(split: split, directory: dataDir)
                let indices = Array(0..<min(first ?? data.count, data.count))
                return (Preprocess.images(data, indices: indices), data.labels(at: indices))
            }
            let userData = try dataFlags.load(comm)
            let (train, test) = try comm.together {
                let (train, test) = try userData.map { try split($0, config: &config) }
                    ?? (load(.train, first: trainSubset), load(.test, first: testSubset))
                guard batchSize <= train.labels.count else {
                    throw OptionError("--batch-size", "is \(batchSize), more than the \(train.labels.count) training images")
                }
                _ = try OptionCheck.product(epochs, options.stepsPerEpoch(datasetSize: train.labels.count), "--epochs x steps per epoch")
                return (train, test)
            }

            let model = FashionClassifier(config: config)
            if comm.isRoot { model.initializeParameters(seed: seed) }
            let trainer = ClassifierTrainer(model: model, images: train.images, labels: train.labels,
                                            options: options, group: comm)
            try trainer.broadcastParameters()
            if comm.isRoot {
                try FileError.createFolder(directory)
                try (userData.map { DataRecord($0, spec: dataFlags.spec!, preprocess: PreprocessSettings(
                        size: imageSize, channels: config.inChannels, centerCrop: true)) }
                    ?? .fashionMNIST(count: train.labels.count)).write(to: directory)
                print("training a classifier of \(model.store.count) parameters (channels \(config.channels), "
                      + "blocks \(config.blocksPerStage)) on \(comm.size) rank(s) x \(threads) thread(s); "
                      + "\(trainer.datasetSize) images, batch \(batchSize), \(epochs) epochs, max lr \(maxLR)")
                print("output: \(directory)")
            }
            try ClassifierTrainingRun.run(trainer, test: test, directory: directory) { print($0) }
            if comm.isRoot { print("wrote \(directory)/\(ClassifierFolder.configName), \(ClassifierFolder.weightsName), metrics.csv") }
        }
    }
}
