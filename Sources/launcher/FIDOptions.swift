import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// The options FID and KID take, shared by `launcher fid` and `launcher sample --fid`.
struct FIDOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Classifier folder (config.json + model.safetensors) whose pooled features FID and KID compare (default: "
        + "$\(ClassifierFolder.environmentVariable), else the committed \(ClassifierFolder.defaultDirectory) found from "
        + "the launcher's location, else from the current folder).", valueName: "folder"))
    var classifier: String?
    @Option(help: ArgumentHelp("Real images to compare with: Fashion-MNIST's test (10,000 images) or train (60,000), or your "
                               + "data: a folder, .npy or IDX file as `train --data` takes (with a --classifier trained on that "
                               + "kind of data: `train-classifier --data`; docs/data.md).", valueName: "test|train|path"))
    var reference = "test"
    @Option(help: ArgumentHelp("With --reference PATH: its labels (as `train --labels`; not needed for FID).", valueName: "path"))
    var referenceLabels: String?
    @OptionGroup var dataCache: DataCacheFlags
    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Use only the first N reference images (smoke tests).") var referenceLimit: Int?
    @Option(help: ArgumentHelp("Where the reference statistics are cached (default: the classifier folder if writable, else "
                               + "$XDG_CACHE_HOME/fashion-diffusion or ~/.cache/fashion-diffusion).")) var cacheDir: String?
    @Option(help: "KID: number of random subsets, in 1...100000.") var kidSubsets = 100
    @Option(help: "KID: rows per subset (capped by the images available).") var kidSubsetSize = 1000
    @Option(help: "Images per classifier batch, in 1...65536.") var featureBatch = 256

    /// The Fashion-MNIST split --reference names, or nil for a path.
    var referenceSplit: FashionMNIST.Split? { FashionMNIST.Split(rawValue: reference) }

    var referenceData: DataSpec? {
        referenceSplit == nil ? DataSpec(path: reference, labelsPath: referenceLabels, cacheDirectory: dataCache.directory) : nil
    }

    func validate() throws {
        if referenceSplit == nil && !FileManager.default.fileExists(atPath: reference) {
            throw ValidationError("--reference '\(reference)': expected test, train, or the path of your data (a folder, .npy or "
                                  + "IDX file as `train --data` takes); there is no such file or folder")
        }
        if let referenceLimit { try OptionCheck.integer(referenceLimit, "--reference-limit", 2...Int.max) }
        try OptionCheck.integer(kidSubsets, "--kid-subsets", 1...100_000)
        try OptionCheck.integer(kidSubsetSize, "--kid-subset-size", 2...Int.max)
        try OptionCheck.integer(featureBatch, "--feature-batch", 1...65_536)
    }

    /// The classifier's input (image size, channels) from its config.json.
    /// Refuses first a classifier trained on other data than --reference.
    func classifierInput() throws -> (size: Int, channels: Int) {
        try ReferenceStatistics.checkClassifier(ClassifierFolder.locate(given: classifier), for: referenceData)
        let c = try ClassifierFolder.load(from: ClassifierFolder.locate(given: classifier)).config
        return (c.imageSize, c.inChannels)
    }

    /// Samples of `size` and `channels` must be what the classifier takes, and a model trained
    /// on --data is scored against data of its kind (--reference PATH), not Fashion-MNIST:
    /// the checks of every command that scores a model (`sample --fid`, `guidance-sweep`,
    /// `compare-samplers`).
    func requireClassifierInput(size: Int, channels: Int, source: String) throws {
        if referenceData == nil { try Self.requireFashionModel(source) }
        let input = try classifierInput()
        guard input == (size, channels) else {
            throw ValidationError("\(source): images of \(size)x\(size)" + (channels == 1 ? "" : " with \(channels) channels")
                                  + "; FID and KID need \(input.size)x\(input.size) images of \(input.channels) channel(s), what the "
                                  + "classifier in \(ClassifierFolder.locate(given: classifier)) was trained on (other data needs "
                                  + "--classifier, trained with `train-classifier --data` on that kind of data)")
        }
    }

    /// A model whose run recorded other data than Fashion-MNIST (data.json) is refused by the
    /// commands that score against Fashion-MNIST (`sample --fid`, `guidance-sweep`,
    /// `compare-samplers` without --reference PATH).
    static func requireFashionModel(_ model: String) throws {
        if let record = try DataRecord.near(model: model), !record.isFashionMNIST {
            throw ValidationError("\(model) was trained on \(record.source), not Fashion-MNIST: scoring it against Fashion-MNIST "
                                  + "would be meaningless. Use `launcher sample --fid --reference \(record.source) --classifier DIR` "
                                  + "with a classifier trained on that data (`launcher train-classifier --data`; docs/data.md)")
        }
    }

    var settings: FIDEvaluation.Settings {
        var s = FIDEvaluation.Settings()
        s.classifierDirectory = ClassifierFolder.locate(given: classifier)
        s.reference = referenceSplit ?? .test
        s.referenceData = referenceData
        s.dataDirectory = dataDir
        s.referenceLimit = referenceLimit
        s.cacheDirectory = cacheDir
        s.kidSubsets = kidSubsets
        s.kidSubsetSize = kidSubsetSize
        s.batchSize = featureBatch
        return s
    }

    /// Progress bars on rank 0, one per phase.
    static func progressBars(_ comm: Communicator) -> FIDEvaluation.Progress? {
        guard comm.isRoot else { return nil }
        var current: (phase: String, bar: ProgressBar)?
        return { phase, done, total in
            if current?.phase != phase {
                current?.bar.finish()
                current = (phase, ProgressBar(total: total, label: phase == "reference" ? "reference features" : "sample features"))
            }
            current?.bar.update(done: done)
        }
    }

    /// FID and KID of the images the ranks hold (each its own `localImages`, global indices
    /// `localRange`): printed on rank 0, and the samples' statistics written to
    /// `statisticsPath` (pytorch-fid .npz) if given. Collective.
    func report(_ comm: Communicator, localImages: Tensor, localRange: Range<Int>, statisticsPath: String?) throws {
        let report = try FIDEvaluation.evaluate(localImages: localImages, localRange: localRange, settings: settings,
                                                group: comm, progress: Self.progressBars(comm))
        guard let report else { return }
        for line in report.lines { print(line) }
        if let statisticsPath {
            try report.samples.write(npz: statisticsPath)
            print("wrote \(statisticsPath)")
        }
    }
}
