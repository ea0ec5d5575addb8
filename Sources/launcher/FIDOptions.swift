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
    @Option(help: "Real images to compare with: test (10,000 images) or train (60,000).") var reference: FashionMNIST.Split = .test
    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Use only the first N reference images (smoke tests).") var referenceLimit: Int?
    @Option(help: ArgumentHelp("Where the reference statistics are cached (default: the classifier folder if writable, else "
                               + "$XDG_CACHE_HOME/fashion-diffusion or ~/.cache/fashion-diffusion).")) var cacheDir: String?
    @Option(help: "KID: number of random subsets, in 1...100000.") var kidSubsets = 100
    @Option(help: "KID: rows per subset (capped by the images available).") var kidSubsetSize = 1000
    @Option(help: "Images per classifier batch, in 1...65536.") var featureBatch = 256

    func validate() throws {
        if let referenceLimit { try OptionCheck.integer(referenceLimit, "--reference-limit", 2...Int.max) }
        try OptionCheck.integer(kidSubsets, "--kid-subsets", 1...100_000)
        try OptionCheck.integer(kidSubsetSize, "--kid-subset-size", 2...Int.max)
        try OptionCheck.integer(featureBatch, "--feature-batch", 1...65_536)
    }

    /// The classifier sees 32x32 images (it was trained on them): other sizes are refused
    /// rather than compared against 32x32 reference statistics.
    static func requireClassifierSize(_ size: Int, source: String) throws {
        guard size == Preprocess.imageSize else {
            throw ValidationError("\(source): images of \(size)x\(size); FID and KID need \(Preprocess.imageSize)x\(Preprocess.imageSize) "
                                  + "images, the size the classifier was trained on")
        }
    }

    var settings: FIDEvaluation.Settings {
        var s = FIDEvaluation.Settings()
        s.classifierDirectory = ClassifierFolder.locate(given: classifier)
        s.reference = reference
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
