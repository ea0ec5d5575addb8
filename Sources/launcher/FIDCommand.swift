import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct FIDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fid",
        abstract: "FID and KID of images against real Fashion-MNIST, with a classifier's pooled features.",
        discussion: """
        --samples is a .npy of images in [-0.5, 0.5] (samples.npy from `launcher sample`: [n,32,32]; \
        [n,1,32,32] and [n,32,32,1] work too) or a pytorch-fid statistics .npz (mu, sigma; FID only). \
        Each rank featurizes its share of the images; the Float64 feature sums are reduced to rank 0, \
        which compares them with the reference statistics (the 10,000 test images by default). Those \
        are computed once, in parallel, and cached beside the classifier, named by a hash of its \
        weights. KID uses the cubic kernel on random subsets of feature rows.

        Example: mpirun -np 2 --bind-to none launcher fid --samples runs/sample-x/samples.npy
        """)

    @Option(help: "Images (.npy) or statistics (.npz with mu and sigma).") var samples: String
    @OptionGroup var options: FIDOptions
    @Option(help: "Also write the samples' statistics (mu, sigma, n) to this .npz.") var writeStatistics: String?
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host).") var threads: Int?

    func validate() throws {
        if writeStatistics != nil && samples.hasSuffix(".npz") {
            throw ValidationError("--write-statistics needs images (.npy), not statistics")
        }
    }

    func run() throws {
        try runOnWorld { comm in
            _ = try comm.configureThreads(requested: threads)
            if samples.hasSuffix(".npz") {
                let moments = try rootLoads(comm) { try FeatureMoments.read(npz: samples) }
                let report = try FIDEvaluation.evaluate(moments: moments, settings: options.settings, group: comm,
                                                        progress: FIDOptions.progressBars(comm))
                report?.lines.forEach { print($0) }
                return
            }
            // Every rank reads the file (as every rank reads the model) and keeps its share.
            let images = try SampleFiles.readImages(samples, size: Preprocess.imageSize)
            let n = images.shape[0]
            let mine = EpochPlan.share(count: n, rank: comm.rank, size: comm.size)
            if comm.isRoot {
                let (lo, hi) = images.buffer.reduce((Float.infinity, -Float.infinity)) { (min($0.0, $1), max($0.1, $1)) }
                print("\(samples): \(n) images, values in [\(lo), \(hi)]")
                if lo < -1 || hi > 1 {
                    print("warning: values outside [-1, 1]: the classifier expects the training range [-0.5, 0.5]")
                }
            }
            try options.report(comm, localImages: images.gather(Array(mine)), localRange: mine,
                               statisticsPath: writeStatistics)
        }
    }
}
