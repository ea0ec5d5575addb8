import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct TrainClassifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-classifier",
        abstract: "Train the Fashion-MNIST classifier whose features FID and KID use, data-parallel over MPI ranks.",
        discussion: """
        Every rank holds the whole classifier and runs its share of each global batch; gradients \
        are summed by one allreduce before every Adam step (one-cycle learning rate). Training \
        images get a random shift of up to --max-shift pixels (and a horizontal flip with --flip), keyed by \
        (seed, step, position), so a run gives the same classifier at any rank count. After each \
        epoch the test accuracy is printed and --out gets config.json, model.safetensors (each \
        written atomically) and metrics.csv.

        Example: mpirun -np 2 --bind-to none launcher train-classifier --out models/fashion-classifier
        """)

    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Output folder (default runs/classifier-<date-time>).") var out: String?
    @Option(help: "Use only the first N training images (smoke tests).") var trainSubset: Int?
    @Option(help: "Use only the first N test images (smoke tests).") var testSubset: Int?
    @Option(help: "Channels per stage, comma-separated.") var channels = "32,64,128"
    @Option(help: "Conv blocks per stage, comma-separated.") var blocks = "1,2,2"
    @Option(help: "GroupNorm groups.") var groups = 8
    @Option(help: "Epochs (the learning-rate schedule is planned for these).") var epochs = 12
    @Option(help: "Global batch size, split across ranks.") var batchSize = 128
    @Option(help: "One-cycle peak learning rate (Adam).") var maxLR = 3e-3
    @Option(help: "Augmentation: largest random shift in pixels (0: none).") var maxShift = 1
    @Flag(help: "Augmentation: random horizontal flips too (off by default: Fashion-MNIST's shoes all face one way).")
    var flip = false
    @Option(help: "Seed for initialisation, shuffling and augmentation.") var seed: UInt64 = 0
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host).") var threads: Int?

    func config() throws -> ClassifierConfig {
        func list(_ s: String, _ flag: String) throws -> [Int] {
            let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw ValidationError("\(flag) must be comma-separated positive integers, got '\(s)'")
            }
            return v.map { $0! }
        }
        var c = ClassifierConfig()
        c.channels = try list(channels, "--channels")
        c.blocksPerStage = try list(blocks, "--blocks")
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
        _ = try config()
        guard epochs >= 1, batchSize >= 1 else { throw ValidationError("--epochs and --batch-size must be at least 1") }
        guard maxLR > 0 else { throw ValidationError("--max-lr must be positive, got \(maxLR)") }
        guard maxShift >= 0 && maxShift < 16 else { throw ValidationError("--max-shift must be in 0..<16, got \(maxShift)") }
    }

    func run() throws {
        try runOnWorld { comm in
            let threads = try comm.configureThreads(requested: threads)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("classifier-"))
            let config = try config(), options = options()

            func load(_ split: FashionMNIST.Split, first: Int?) throws -> (images: Tensor, labels: [Int]) {
                let data = try FashionMNIST.load(split: split, directory: dataDir)
                let indices = Array(0..<min(first ?? data.count, data.count))
                return (Preprocess.images(data, indices: indices), data.labels(at: indices))
            }
            let train = try load(.train, first: trainSubset), test = try load(.test, first: testSubset)

            let model = FashionClassifier(config: config)
            if comm.isRoot { model.initializeParameters(seed: seed) }
            let trainer = ClassifierTrainer(model: model, images: train.images, labels: train.labels,
                                            options: options, group: comm)
            try trainer.broadcastParameters()
            if comm.isRoot {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                print("training a classifier of \(model.store.count) parameters (channels \(config.channels), "
                      + "blocks \(config.blocksPerStage)) on \(comm.size) rank(s) x \(threads) thread(s); "
                      + "\(trainer.datasetSize) images, batch \(batchSize), \(epochs) epochs, max lr \(maxLR)")
                print("output: \(directory)")
            }
            var csv = "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n"
            let t0 = Date()
            var epochLoss = 0.0, epochHits = 0.0, epochImages = 0
            var bar = comm.isRoot ? ProgressBar(total: trainer.stepsPerEpoch, label: "epoch 1") : nil
            while !trainer.isFinished {
                let r = try trainer.trainStep()
                epochLoss += r.loss * Double(r.images); epochHits += r.accuracy * Double(r.images); epochImages += r.images
                let inEpoch = trainer.step - r.epoch * trainer.stepsPerEpoch
                bar?.update(done: inEpoch, info: String(format: "loss %.4f  acc %.2f%%  lr %.2e",
                                                        epochLoss / Double(epochImages), 100 * epochHits / Double(epochImages), r.lr))
                guard inEpoch == trainer.stepsPerEpoch || trainer.isFinished else { continue }

                // End of an epoch: test accuracy on every rank's share, then rank 0 writes.
                let eval = try ClassifierEvaluation.evaluate(model, images: test.images, labels: test.labels, group: comm)
                let seconds = Date().timeIntervalSince(t0)
                if comm.isRoot {
                    bar?.finish()
                    print(String(format: "epoch %d: train loss %.4f, accuracy %.2f%%; test loss %.4f, accuracy %.2f%% (%d images); %.0f s",
                                 r.epoch + 1, epochLoss / Double(epochImages), 100 * epochHits / Double(epochImages),
                                 eval.loss, 100 * eval.accuracy, eval.count, seconds))
                    csv += String(format: "%d,%d,%.6f,%.6f,%.6f,%.6f,%.1f\n", r.epoch + 1, trainer.step,
                                  epochLoss / Double(epochImages), epochHits / Double(epochImages), eval.loss, eval.accuracy, seconds)
                    try ClassifierFolder.save(model, to: directory)
                    try FileBytes.writeAtomically(Array(csv.utf8), to: directory + "/metrics.csv")
                    if !trainer.isFinished { bar = ProgressBar(total: trainer.stepsPerEpoch, label: "epoch \(r.epoch + 2)") }
                }
                epochLoss = 0; epochHits = 0; epochImages = 0
            }
            if comm.isRoot { print("wrote \(directory)/\(ClassifierFolder.configName), \(ClassifierFolder.weightsName), metrics.csv") }
        }
    }
}
