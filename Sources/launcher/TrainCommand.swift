import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the denoiser on Fashion-MNIST or your own images (--data), data-parallel over MPI ranks.",
        discussion: """
        Every rank holds the whole model and runs its share of each global batch; gradients are \
        summed by allreduce before every Adam step, so a run gives the same model at any rank count. \
        Defaults are the recipe: linear betas 1e-4..0.01 over 1000 steps, MSE on the noise, Adam \
        (eps 1e-5) under PyTorch's OneCycleLR (max LR 1e-2), global batch 128, 25 epochs.

        The run folder (--out) gets model/ (a diffusers folder), model-ema/ (the EMA of the \
        weights, diffusers' EMAModel, unless --ema-decay 0), training_state.safetensors \
        (for --resume), metrics.csv, loss.png, tensorboard/ (event files with the loss, learning \
        rate, images/s and the final grid: `tensorboard --logdir <run folder>`) and, at the end, \
        samples.png (from the EMA weights when there are some, clipped to [-0.5, 0.5] unless \
        --no-clip). Ctrl-C or SIGTERM (to mpirun or to the ranks; a SIGCONT from mpirun, which \
        precedes its SIGTERM, too) writes a checkpoint and exits; `--resume` continues exactly where it stopped, with the \
        saved options and model: flags given with it must match them (except --max-steps).

        One run at a time per folder: rank 0 holds a lock on <run folder>/.lock while it trains, \
        and a second train (or --resume) of that folder refuses at once, naming the host and pid \
        of the holder. A rank that stops answering in a collective is named after --stall-warning \
        and ends the job after --stall-timeout (docs/faults.md).

        --data trains on your images instead (a folder, .npy or IDX pair; docs/data.md): each image is \
        resized so its short side is the config's sample_size, cropped (randomly per sample, or \
        --center-crop), optionally flipped (--random-flip), converted to the config's in_channels and \
        mapped to [-0.5, 0.5]. Class subfolders give labels for --conditional; the run folder's \
        data.json records the classes and the data's content hash. A folder is decoded once into an \
        on-disk cache (--data-cache, --no-data-cache) that later runs and the other ranks map; a set \
        whose prepared Float32 tensor would exceed --data-memory is streamed, each rank preparing its \
        own samples of each batch (the same losses bit for bit).

        Example: mpirun -np 2 --bind-to none launcher train --preset small --epochs 1
        Example: launcher train --data ~/digits --conditional --preset small --epochs 20
        """)

    @OptionGroup var model: ModelChoice
    @OptionGroup var convolution: ConvolutionOptions
    @OptionGroup(title: "Hyperparameters") var hyper: TrainingFlags
    @Option(help: "Folder with the Fashion-MNIST .gz files.") var dataDir = FashionMNIST.defaultDirectory
    @OptionGroup(title: "Your own data (docs/data.md)") var dataFlags: DataFlags
    @OptionGroup(title: "Your own data (docs/data.md)") var preprocess: PreprocessFlags
    @Option(help: ArgumentHelp("Hold the prepared --data set (Float32 at sample_size) in memory when it takes at most this many "
                               + "MiB; above, each rank prepares its own samples of each batch from the decoded images, mapped "
                               + "from the decoded cache (the same batches bit for bit). Default: a quarter of the memory "
                               + "budget (\(MemoryBudget.limitVariable)); 0: always stream.", valueName: "MiB"))
    var dataMemory: Double?
    @Option(help: "Run folder (default runs/<date-time>).") var out: String?
    @Flag(help: "Continue the run in --out from its training_state.safetensors.") var resume = false
    @Option(help: "Start from the weights of this diffusers folder instead of a fresh initialisation.") var initFrom: String?
    @OptionGroup var bucket: BucketOption
    @Option(help: "Write a checkpoint every N steps.") var checkpointEvery = 200
    @OptionGroup var threads: ThreadsOption
    @Option(help: "Images in the final sample grid (0: none).") var samples = 64
    @Option(help: "Sampler for the final grid (see `launcher sample --help`).") var sampler: SamplerName = .ddpm
    @OptionGroup var clip: ClipFlag
    @Flag(help: "Write no TensorBoard event files (tensorboard/ in the run folder).") var noTensorboard = false
    @Flag(help: LowMemoryFlag.help) var lowMemory = false
    @OptionGroup(title: "Evaluation while training") var evaluation: EvaluationFlags
    @OptionGroup(title: "Stalled ranks") var stall: StallFlags

    func validate() throws {
        if resume && out == nil { throw ValidationError("--resume needs --out: the run folder to continue") }
        if resume && initFrom != nil { throw ValidationError("--resume and --init-from exclude each other") }
        try OptionCheck.integer(checkpointEvery, "--checkpoint-every", 1...Int.max)
        try OptionCheck.integer(samples, "--samples", 0...100_000)
        _ = try SamplerSpec.parse(sampler)
        if !resume { _ = try model.resolve(anySampleSize: dataFlags.data != nil) }
        if let dataMemory {
            if dataFlags.data == nil { throw ValidationError("--data-memory needs --data (Fashion-MNIST is held in memory)") }
            try OptionCheck.number(dataMemory, "--data-memory", 0, Double(Int.max >> 21))
        }
        if dataFlags.data == nil && (preprocess.centerCrop || preprocess.randomFlip) {
            throw ValidationError("--center-crop and --random-flip need --data (Fashion-MNIST is read as the recipe does)")
        }
    }

    func run() throws {
        installStopHandlers()
        try runOnWorld(agreeing: agreedFields(command: "train")) { comm in
            let threads = try threads.configure(comm)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory())
            // Rank 0 writes the folder, so it alone holds the lock; a refusal reaches every rank
            // and they all stop cleanly. Held until this closure ends.
            let lock = try comm.rootLoads { try RunFolderLock.acquire(directory: directory, create: !resume) }
            defer { withExtendedLifetime(lock) {} }
            try stall.watch(comm, directory: directory)
            // A signal that came during the launch or MPI init stops the run before the data load.
            if try comm.allreduceSum([stopRequested != 0 ? 1 : 0])[0] > 0 {
                if comm.isRoot { print("stopped before the first step (\(stopReason)): nothing trained, nothing written") }
                return
            }
            let userData = try dataFlags.load(comm)
            let start = try startingPoint(comm, directory: directory, classes: userData?.classCount)
            try start.checkSameOnEveryRank(group: comm)
            let (data, dataLimit) = try comm.together {
                let limit = try dataMemory.map { Int($0 * 1_048_576) } ?? MemoryBudget.limit().bytes / 4
                let data = try userData.map { try start.prepare($0, centerCrop: preprocess.centerCrop, randomFlip: preprocess.randomFlip,
                                                                memoryLimit: limit) }
                    ?? start.loadData(directory: dataDir)
                try start.validatePlan(datasetSize: data.source.count, name: flagName)
                return (data, limit)
            }
            if resume { try checkResumedData(comm, directory: directory, data: userData, settings: data.settings) }
            if comm.isRoot {
                try FileError.createFolder(directory)
                let record = userData.map { DataRecord($0, spec: dataFlags.spec!, preprocess: data.settings) }
                    ?? .fashionMNIST(count: data.source.count)
                try record.write(to: directory)
                if let userData {
                    for note in ImagePreprocess.notes(userData.images, settings: data.settings!) { print("  note: \(note)") }
                    print("  memory: " + dataMemoryLine(userData.images, data, limit: dataLimit, ranks: comm.size,
                                                           batch: start.options.batchSize))
                }
            }
            let trainer = try start.makeTrainer(source: data.source, labels: data.labels,
                                                initFrom: initFrom, bucketFloats: bucket.bucketFloats, group: comm)
            let classNames = userData?.classNames ?? FashionMNIST.classNames
            trainer.model.context.convolutions = try convolution.resolve(for: trainer.model.config, .training,
                                                                          report: comm.isRoot, agreeingOn: comm)
            trainer.model.context.recomputesAttentionProjections = lowMemory

            let run = try TrainingRun(trainer: trainer, directory: directory, checkpointEvery: checkpointEvery,
                                      tensorBoard: !noTensorboard)
            // A signal during the start (MPI init, the data load) stops the run here, before the
            // time budget's probe steps or an evaluation's setup.
            if try run.agreeToStop({ stopRequested != 0 }) {
                if comm.isRoot { print(stoppedBeforeFirstStep(trainer, directory: directory)) }
                return
            }
            if let plan = try run.planTimeBudget(), comm.isRoot {
                print("time budget \(WallDuration.format(start.options.timeBudget ?? 0)): \(plan.steps) steps at "
                      + String(format: "%.3f s a step (median of %d timed steps, %.1f s spent measuring)", plan.secondsPerStep,
                               TimeBudget.probeSteps - 1, plan.probeSeconds))
            }
            if var settings = try evaluation.settings(dataDir: dataDir, clip: clip.clip) {
                // FID against the training data itself, with a classifier trained on its kind (checked before any step).
                settings.fid.referenceData = dataFlags.spec
                settings.classNames = userData?.classNames
                try comm.together {
                    try ReferenceStatistics.checkClassifier(settings.fid.classifierDirectory, for: settings.fid.referenceData)
                    let c = try ClassifierFolder.load(from: settings.fid.classifierDirectory).config
                    let m = trainer.model.config
                    guard settings.fid.referenceData == nil || c.imageSize == m.sampleSize && c.inChannels == m.outChannels else {
                        throw ValidationError("--eval-every: the classifier in \(settings.fid.classifierDirectory) takes "
                                              + "\(c.imageSize)x\(c.imageSize) images of \(c.inChannels) channel(s), the model makes "
                                              + "\(m.sampleSize)x\(m.sampleSize) of \(m.outChannels)")
                    }
                }
                try run.evaluate(with: settings)
                if comm.isRoot { print("evaluating \(settings.cadence) and at the end: \(settings.count) images, \(settings.spec)") }
            }
            if comm.isRoot {
                print("training \(trainer.model.store.count) parameters on \(comm.size) rank(s) x \(threads) thread(s), convolutions \(trainer.model.context.convolutions); "
                      + "\(trainer.datasetSize) images, batch \(start.options.batchSize), "
                      + "steps \(trainer.step)..<\(trainer.totalSteps) of \(trainer.options.plannedSteps(datasetSize: trainer.datasetSize)) planned")
                print("run folder: \(directory)")
            }
            let progress = TrainingProgress(trainer: trainer)
            let outcome = try run.run(shouldStop: { stopRequested != 0 }, onStep: progress.record,
                                      onEvaluation: { progress.log($0.line) })
            progress.finish()
            if comm.isRoot { print(run.timeSummary) }
            if outcome == .stoppedBeforeFirstStep {
                if comm.isRoot { print(stoppedBeforeFirstStep(trainer, directory: directory)) }
                return
            }
            if outcome == .stopped {
                if comm.isRoot { print("stopped at step \(trainer.step) (\(stopReason)); checkpoint written. Continue with: --out \(directory) --resume") }
                return
            }
            if comm.isRoot {
                print("trained to step \(trainer.step); model in \(run.modelPath)" + (trainer.ema != nil ? ", EMA in \(run.emaModelPath)" : "")
                      + ", loss plot \(run.lossPlotPath)" + (run.evaluation != nil ? ", FID curve \(run.fidPlotPath)" : ""))
            }
            if samples > 0 {
                let model = try trainer.samplingModel()
                try sampleGrid(comm, model: model, weights: trainer.ema != nil ? .ema : .raw, directory: directory,
                               schedule: trainer.schedule, seed: start.options.seed, classNames: classNames)
                try run.tensorBoard?.image("samples", pngFile: directory + "/samples.png", step: trainer.step)
            }
        }
    }

    /// What the data takes on each rank: the decoded images (in memory or mapped from the
    /// decoded cache), and the prepared set, held or streamed.
    func dataMemoryLine(_ decoded: RawImages, _ data: TrainingStart.PreparedData, limit: Int, ranks: Int, batch: Int) -> String {
        func mb(_ bytes: CheckedSize) -> String { bytes.value.map { String(format: "%.1f MB", Double($0) / 1e6) } ?? "too many bytes" }
        let shape = data.source.shape.map(String.init).joined(separator: "x")
        var line = mb(CheckedSize(decoded.byteCount)) + " decoded (8-bit, "
            + (decoded.mappedPath.map { "mapped from \($0): page cache, shared by the ranks on a host" } ?? "in memory") + "), "
        switch data.source {
        case .prepared:
            line += mb(data.preparedBytes) + " prepared (float32 \(shape)) on each rank"
        case .streamed:
            let perRank = (min(batch, data.source.count) + ranks - 1) / ranks
            line += "streamed: the prepared set (float32 \(shape)) would take " + mb(data.preparedBytes) + ", more than the "
                + mb(CheckedSize(limit)) + " of --data-memory, so each rank prepares its own samples of each batch ("
                + mb(data.source.batchBytes(count: perRank)) + " a batch)"
        }
        return line
    }

    /// What rank 0 prints when a signal stopped the run before it took a step.
    func stoppedBeforeFirstStep(_ trainer: Trainer, directory: String) -> String {
        trainer.step == 0 ? "stopped before the first step (\(stopReason)): nothing trained, no checkpoint written"
                          : "stopped before the first step of this session (\(stopReason)); the checkpoint at step "
                            + "\(trainer.step) stays. Continue with: --out \(directory) --resume"
    }

    /// A resumed run trains on the data it started with: its data.json (runs from before it
    /// have none: Fashion-MNIST) against --data and the preprocessing flags.
    func checkResumedData(_ comm: Communicator, directory: String, data: TrainingData?, settings: PreprocessSettings?) throws {
        try comm.together {
            guard let saved = try DataRecord.read(from: directory) else {
                if let data { throw ValidationError("--data \(data.source): the run in \(directory) trained on Fashion-MNIST; leave out --data to continue it") }
                return
            }
            let path = directory + "/" + DataRecord.fileName
            guard let data else {
                if saved.isFashionMNIST { return }
                throw ValidationError("\(path): the run trained on \(saved.source): give --data \(saved.source) to continue it")
            }
            if saved.contentHash != data.contentHash {
                throw ValidationError("\(path): the run trained on \(saved.source) (content hash \(saved.contentHash ?? "none"), "
                                      + "\(saved.count) images); --data \(data.source) holds other images (hash \(data.contentHash), "
                                      + "\(data.count) images)")
            }
            if let settings, let before = saved.preprocess, before != settings {
                throw ValidationError("\(path): the run trained with --center-crop \(before.centerCrop), --random-flip \(before.randomFlip); "
                                      + "give the same to continue it")
            }
        }
    }

    /// A new run from the flags, or the saved run with the flags checked against it.
    /// `classes`: the class count of --data (a conditional run's classes).
    func startingPoint(_ comm: Communicator, directory: String, classes: Int?) throws -> TrainingStart {
        let anySize = dataFlags.data != nil
        guard resume else {
            var options = hyper.applied()
            if options.conditional == true, dataFlags.data != nil {
                guard let classes else {
                    throw ValidationError("--conditional needs labels, and \(dataFlags.data ?? "") has none: use a folder with one "
                                          + "subfolder per class, --labels for a .npy, or an IDX labels file")
                }
                options.classCount = classes
            }
            return .new(options: options, config: try comm.together {
                try options.modelConfig(for: model.resolve(anySampleSize: anySize), source: model.source) })
        }
        var start = try TrainingStart.resume(statePath: directory + "/" + TrainingCheckpoint.fileName, group: comm)
        try comm.together {
            try start.continueWith(hyper.applied(), explicit: hyper.explicitFields(), name: flagName)
            if model.given, try start.options.modelConfig(for: model.resolve(anySampleSize: anySize), source: model.source) != start.config {
                throw OptionError(model.config.map { "--config \($0)" } ?? "--preset \(model.preset?.rawValue ?? "")",
                                  "differs from the model of the run being resumed (\(start.statePath ?? directory)); "
                                  + "leave it out to continue that run")
            }
        }
        return start
    }

    /// The final grid: `samples` images with `sampler`, split over the ranks. A class-conditional
    /// model draws every class alike (`--class all`, rounded down to whole rows of classes) with
    /// the default guidance scale, one labelled row per class.
    func sampleGrid(_ comm: Communicator, model: UNet2DModel, weights: WeightsChoice, directory: String, schedule: NoiseSchedule,
                    seed: UInt64, classNames: [String]) throws {
        let spec = try SamplerSpec.parse(sampler)
        let (count, guidance) = try ClassGuidance.everyClass(of: model.config, count: samples)
        let bar = SamplingProgressBar(label: "sample", group: comm)
        let result = try ShardedSampling.generate(model: model, spec: spec, schedule: schedule, count: count, seed: seed,
                                                  group: comm, guidance: guidance, clip: clip.clip) { i, total, _ in bar.step(i, of: total) }
        bar.finish()
        if let images = result.images {
            if let guidance {
                try SampleFiles.writeClassGrid(images: images, classes: guidance.nullClass, names: classNames, to: directory + "/samples.png")
            } else {
                try SampleFiles.writeGrid(images: images, to: directory + "/samples.png")
            }
            print("samples: \(directory)/samples.png (\(count) images, sampler \(sampler.rawValue), \(weights.label) weights"
                  + (guidance.map { ", every class, guidance scale \(OptionCheck.format($0.scale))" } ?? "")
                  + (clip.clip ? ", clipped" : "") + ")")
        }
    }
}
