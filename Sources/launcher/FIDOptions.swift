import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// The options FID and KID take, shared by `launcher fid` and `launcher sample --fid`.
struct FIDOptions: ParsableArguments {
    @Option(help: "Classifier folder (config.json + model.safetensors) whose pooled features FID and KID compare.")
    var classifier = ClassifierFolder.defaultDirectory
    @Option(help: "Real images to compare with: test (10,000 images) or train (60,000).") var reference = "test"
    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Use only the first N reference images (smoke tests).") var referenceLimit: Int?
    @Option(help: "Where the reference statistics are cached (default: the classifier folder).") var cacheDir: String?
    @Option(help: "KID: number of random subsets.") var kidSubsets = 100
    @Option(help: "KID: rows per subset (capped by the images available).") var kidSubsetSize = 1000
    @Option(help: "Images per classifier batch.") var featureBatch = 256

    func validate() throws {
        guard FashionMNIST.Split(rawValue: reference) != nil else {
            throw ValidationError("--reference must be test or train, got '\(reference)'")
        }
        if let referenceLimit, referenceLimit < 2 { throw ValidationError("--reference-limit must be at least 2") }
        guard kidSubsets >= 1 else { throw ValidationError("--kid-subsets must be at least 1") }
        guard kidSubsetSize >= 2 else { throw ValidationError("--kid-subset-size must be at least 2") }
        guard featureBatch >= 1 else { throw ValidationError("--feature-batch must be at least 1") }
    }

    var settings: FIDEvaluation.Settings {
        var s = FIDEvaluation.Settings()
        s.classifierDirectory = classifier
        s.reference = FashionMNIST.Split(rawValue: reference) ?? .test
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
            current!.bar.update(done: done)
            if done >= total { current!.bar.finish(); current = nil }
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
