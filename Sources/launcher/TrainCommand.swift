import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the denoiser on Fashion-MNIST, data-parallel over MPI ranks.",
        discussion: """
        Every rank holds the whole model and runs its share of each global batch; gradients are \
        summed by allreduce before every Adam step, so a run gives the same model at any rank count. \
        Defaults are the recipe: linear betas 1e-4..0.01 over 1000 steps, MSE on the noise, Adam \
        (eps 1e-5) under PyTorch's OneCycleLR (max LR 1e-2), global batch 128, 25 epochs.

        The run folder (--out) gets model/ (a diffusers folder), training_state.safetensors \
        (for --resume), metrics.csv, loss.png and, at the end, samples.png. Ctrl-C or SIGTERM \
        writes a checkpoint and exits; `--resume` continues exactly where it stopped.

        Example: mpirun -np 2 --bind-to none launcher train --preset small --epochs 1
        """)

    @OptionGroup var model: ModelChoice
    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Use only the first N training images (smoke tests).") var trainSubset: Int?
    @Option(help: "Run folder (default runs/<date-time>).") var out: String?
    @Flag(help: "Continue the run in --out from its training_state.safetensors.") var resume = false
    @Option(help: "Start from the weights of this diffusers folder instead of a fresh initialisation.") var initFrom: String?

    @Option(help: "Global batch size, split across ranks.") var batchSize = 128
    @Option(help: "Epochs (the learning-rate schedule is planned for these).") var epochs = 25
    @Option(help: "Stop after this many optimizer steps (the schedule still spans --epochs).") var maxSteps: Int?
    @Option(help: "OneCycle peak learning rate.") var maxLR = 1e-2
    @Option(help: "OneCycle warm-up fraction.") var pctStart = 0.3
    @Option(help: "OneCycle: initial lr = max lr / div-factor.") var divFactor = 25.0
    @Option(help: "OneCycle: final lr = initial lr / final-div-factor.") var finalDivFactor = 1e4
    @Option(help: "Adam beta2.") var beta2 = 0.999
    @Option(help: "Adam epsilon.") var adamEps = 1e-5
    @Option(help: ArgumentHelp("Clip the global gradient norm to this before each Adam step (default: no clipping, as the recipe).",
                               valueName: "norm")) var maxGradNorm: Double?
    @Option(help: "Last beta of the linear noise schedule.") var betaMax = 0.01
    @Option(help: "Seed for initialisation, shuffling and noise.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Gradient allreduce bucket size in MiB (each bucket starts as soon as backward has finished it).",
                               valueName: "MiB")) var bucketMib = Double(Trainer.defaultBucketSize) / floatsPerMiB
    @Option(help: "Write a checkpoint every N steps.") var checkpointEvery = 200
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host).") var threads: Int?

    @Option(help: "Images in the final sample grid (0: none).") var samples = 64
    @Option(help: "Sampler for the final grid (see `launcher sample --help`).") var sampler = "ddpm"

    func options() -> TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = batchSize; o.epochs = epochs; o.maxSteps = maxSteps
        o.maxLR = maxLR; o.pctStart = pctStart; o.divFactor = divFactor; o.finalDivFactor = finalDivFactor
        o.beta2 = beta2; o.adamEps = adamEps; o.betaMax = betaMax; o.seed = seed
        o.maxGradNorm = maxGradNorm
        return o
    }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1, got \(maxSteps)") }
        guard maxLR > 0 else { throw ValidationError("--max-lr must be positive, got \(maxLR)") }
        if let maxGradNorm, !(maxGradNorm > 0) { throw ValidationError("--max-grad-norm must be positive, got \(maxGradNorm)") }
        guard betaMax > 1e-4 && betaMax < 1 else { throw ValidationError("--beta-max must be in (1e-4, 1), got \(betaMax)") }
        if resume && out == nil { throw ValidationError("--resume needs --out: the run folder to continue") }
        if resume && initFrom != nil { throw ValidationError("--resume and --init-from exclude each other") }
        if samples < 0 { throw ValidationError("--samples must be >= 0") }
        guard bucketMib > 0 else { throw ValidationError("--bucket-mib must be positive, got \(bucketMib)") }
        _ = try SamplerSpec.parse(sampler)
    }

    func run() throws {
        installStopHandlers()
        try runOnWorld { comm in
            let threads = try comm.configureThreads(requested: threads)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory())
            var options = options()
            var config = try model.resolve()

            // Resume: rank 0 reads the state; its step, options and config reach every rank
            // and win over the flags (except --max-steps, to extend or shorten a run).
            var state: TrainingCheckpoint.State?
            var resumeStep = 0
            if resume {
                state = try rootLoads(comm) { try TrainingCheckpoint.load(from: directory + "/" + TrainingCheckpoint.fileName) }
                let summary = try comm.broadcastString(state.map {
                    String(decoding: try! JSONEncoder().encode(ResumeSummary(step: $0.step, options: $0.options)), as: UTF8.self)
                        + "\n" + $0.config.toJSON()
                } ?? "")
                let parts = summary.split(separator: "\n", maxSplits: 1).map(String.init)
                let shared = try JSONDecoder().decode(ResumeSummary.self, from: Data(parts[0].utf8))
                resumeStep = shared.step
                options = shared.options
                if let maxSteps { options.maxSteps = maxSteps }
                config = try UNetConfig(json: Array(parts[1].utf8), path: directory + "/" + TrainingCheckpoint.fileName)
            }
            try checkSameConfiguration(comm, options: options, config: config)

            let data = try FashionMNIST.load(split: .train, directory: dataDir)
            let images = Preprocess.images(data, indices: trainSubset.map { Array(0..<min($0, data.count)) })

            let unet = try UNet2DModel(config: config)
            if comm.isRoot {
                if let state = state {
                    unet.store.values.update(from: state.parameters.data, count: unet.store.count)
                } else if let initFrom {
                    try DiffusersFolder.loadParameters(into: unet, from: initFrom + "/" + DiffusersFolder.weightsName)
                } else {
                    unet.initializeParameters(seed: options.seed)
                }
            }
            let trainer = try Trainer(model: unet, images: images, options: options, group: comm)
            trainer.bucketSize = max(1, Int(bucketMib * floatsPerMiB))
            try trainer.broadcastParameters()
            if resume {
                // Rank 0 read the moments; every rank needs them.
                let m = state?.adamM ?? Tensor(shape: [unet.store.count])
                let v = state?.adamV ?? Tensor(shape: [unet.store.count])
                try comm.broadcast(m.buffer, root: 0)
                try comm.broadcast(v.buffer, root: 0)
                trainer.restore(step: resumeStep, adamM: m.data, adamV: v.data)
            }

            let run = try TrainingRun(trainer: trainer, directory: directory, checkpointEvery: checkpointEvery)
            if comm.isRoot {
                print("training \(unet.store.count) parameters on \(comm.size) rank(s) x \(threads) thread(s); "
                      + "\(trainer.datasetSize) images, batch \(options.batchSize), "
                      + "steps \(trainer.step)..<\(trainer.totalSteps) of \(options.plannedSteps(datasetSize: trainer.datasetSize)) planned")
                print("run folder: \(directory)")
            }
            let bar = comm.isRoot ? ProgressBar(total: trainer.totalSteps, label: "train") : nil
            let firstStep = trainer.step
            var smoothed: Double?
            var imagesPerSecond: Double?
            let outcome = try run.run(shouldStop: { stopRequested != 0 }) { r in
                smoothed = smoothed.map { 0.9 * $0 + 0.1 * r.loss } ?? r.loss
                let ips = Double(r.images) / r.seconds
                imagesPerSecond = imagesPerSecond.map { 0.9 * $0 + 0.1 * ips } ?? ips
                bar?.update(done: r.step + 1, startedAt: firstStep,
                            info: String(format: "epoch %d  loss %.4f  %.1f img/s", r.epoch + 1, smoothed!, imagesPerSecond!))
            }
            bar?.finish()
            if outcome == .stopped {
                if comm.isRoot { print("stopped at step \(trainer.step); checkpoint written. Continue with: --out \(directory) --resume") }
                return
            }
            if comm.isRoot { print("trained to step \(trainer.step); model in \(run.modelPath), loss plot \(run.lossPlotPath)") }

            if samples > 0 {
                try sampleGrid(comm, model: unet, directory: directory, schedule: trainer.schedule)
            }
        }
    }

    /// The final grid: `samples` images with `sampler`, split over the ranks.
    func sampleGrid(_ comm: Communicator, model: UNet2DModel, directory: String, schedule: NoiseSchedule) throws {
        let spec = try SamplerSpec.parse(sampler)
        let evaluations = try Sampling.plannedModelEvaluations(spec: spec, schedule: schedule)
        let bar = comm.isRoot ? ProgressBar(total: evaluations, label: "sample") : nil
        var done = 0
        let result = try ShardedSampling.generate(model: model, spec: spec, schedule: schedule, count: samples,
                                                  seed: seed, group: comm) { _, _, _ in
            done += 1
            bar?.update(done: min(done, evaluations))
        }
        bar?.finish()
        if let images = result.images {
            try SampleFiles.writeGrid(images: images, to: directory + "/samples.png")
            print("samples: \(directory)/samples.png (\(samples) images, sampler \(sampler))")
        }
    }
}

/// Rank 0 runs `load`; its success or its error reaches every rank, so none is left waiting
/// in a collective. Only rank 0 gets the value (nil elsewhere): share it with broadcasts.
func rootLoads<T>(_ comm: Communicator, _ load: () throws -> T) throws -> T? {
    var value: T?
    var message = ""
    if comm.isRoot {
        do { value = try load() } catch { message = "\(error)" }
    }
    let agreed = try comm.broadcastString(message)
    if !agreed.isEmpty { throw RootError(message: agreed) }
    return value
}

struct ResumeSummary: Codable {
    let step: Int
    let options: TrainingOptions
}

/// 4-byte floats in a MiB.
let floatsPerMiB = 262_144.0

struct RootError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// All ranks must run the same configuration: rank 0's is compared on every rank.
func checkSameConfiguration(_ comm: Communicator, options: TrainingOptions, config: UNetConfig) throws {
    let mine = options.canonicalJSON + config.toJSON()
    let roots = try comm.broadcastString(mine)
    let mismatches = try comm.allreduceSum([roots == mine ? 0 : 1])[0]
    if mismatches > 0 {
        throw TrainingError.configurationMismatch("\(Int(mismatches)) rank(s) were started with options or a model config different from rank 0's")
    }
}

extension Communicator {
    func broadcastString(_ s: String) throws -> String {
        var v = s
        try broadcast(&v)
        return v
    }
}
