import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct FIDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fid",
        abstract: "FID and KID of images against real Fashion-MNIST or your data, with a classifier's pooled features.",
        discussion: """
        --samples is a .npy of images in [-0.5, 0.5] (samples.npy from `launcher sample`: [n,32,32]; \
        [n,1,32,32] and [n,32,32,1] work too), a pytorch-fid statistics .npz (mu, sigma; FID only), \
        or real:train / real:test for real Fashion-MNIST images (the floor a generator can reach). \
        Each rank featurizes its share of the images; the Float64 feature sums are reduced to rank 0, \
        which compares them with the reference statistics (the 10,000 test images by default). Those \
        are computed once, in parallel, and cached beside the classifier, named by a hash of its \
        weights. KID uses the cubic kernel on random subsets of feature rows.

        --reference PATH compares with your data instead (a folder, .npy or IDX as `train --data` \
        takes; docs/data.md): every image, resized and centre-cropped to the classifier's input, \
        cached by the decoded set's content hash. It needs --classifier, a classifier trained on \
        that kind of data (`launcher train-classifier --data LABELLED`); the Fashion-MNIST \
        classifier is refused for other data, and unlabelled data cannot train a classifier.

        Example: mpirun -np 2 --bind-to none launcher fid --samples runs/sample-x/samples.npy
        Example: launcher fid --samples runs/s/samples.npy --reference digits/ --classifier runs/digits-classifier
        """)

    @Option(help: ArgumentHelp("Images (.npy), statistics (.npz with mu and sigma), or real:train / real:test.",
                               valueName: "file|real:train|real:test"),
            completion: SampleSource.defaultCompletionKind, transform: SampleSource.init(parsing:))
    var samples: SampleSource
    @Option(help: "With real:<split>: only the first N images.") var samplesLimit: Int?
    @OptionGroup var options: FIDOptions
    @Option(help: "Also write the samples' statistics (mu, sigma, n) to this .npz.") var writeStatistics: String?
    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        if writeStatistics != nil && samples.isStatistics {
            throw ValidationError("--write-statistics needs images (.npy), not statistics")
        }
        if case .file = samples, samplesLimit != nil {
            throw ValidationError("--samples-limit applies to real:train or real:test only")
        }
        if let samplesLimit { try OptionCheck.integer(samplesLimit, "--samples-limit", 2...Int.max) }
    }

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "fid")) { comm in
            _ = try threads.configure(comm)
            if case .file(let path) = samples, samples.isStatistics {
                let moments = try comm.rootLoads { try FeatureMoments.read(npz: path) }
                let report = try FIDEvaluation.evaluate(moments: moments, settings: options.settings, group: comm,
                                                        progress: FIDOptions.progressBars(comm))
                report?.lines.forEach { print($0) }
                return
            }
            let (images, range) = try comm.together {
                switch samples {
                case .real(let split): return try realShare(comm, split: split)
                case .file(let path): return try fileShare(comm, path: path)
                }
            }
            try options.report(comm, localImages: images, localRange: range, statisticsPath: writeStatistics)
        }
    }

    /// This rank's share of the real images of a split (each rank preprocesses only its own).
    func realShare(_ comm: Communicator, split: FashionMNIST.Split) throws -> (Tensor, Range<Int>) {
        let data = try FashionMNIST.load(split: split, directory: options.dataDir)
        let n = min(samplesLimit ?? data.count, data.count)
        let mine = EpochPlan.share(count: n, rank: comm.rank, size: comm.size)
        if comm.isRoot { print("samples: the first \(n) real Fashion-MNIST \(split.rawValue) images") }
        return (Preprocess.images(data, indices: Array(mine)), mine)
    }

    /// This rank's share of the images in the .npy (every rank reads the file, as every rank
    /// reads the model in `launcher sample`).
    func fileShare(_ comm: Communicator, path: String) throws -> (Tensor, Range<Int>) {
        let input = try options.classifierInput()
        let images = try SampleFiles.readImages(path, size: input.size, channels: input.channels)
        let n = images.shape[0]
        let mine = EpochPlan.share(count: n, rank: comm.rank, size: comm.size)
        if comm.isRoot {
            let (lo, hi) = images.buffer.reduce((Float.infinity, -Float.infinity)) { (min($0.0, $1), max($0.1, $1)) }
            print("\(path): \(n) images, values in [\(lo), \(hi)]")
            if lo < -1 || hi > 1 {
                print("warning: values outside [-1, 1]: the classifier expects the training range [-0.5, 0.5]")
            }
        }
        return (images.gather(Array(mine)), mine)
    }
}
