import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate images from a diffusers UNet2DModel folder, split across MPI ranks.",
        discussion: """
        Samplers (schedule: linear betas 1e-4..--beta-max over 1000 steps), their options and defaults:
        \(SamplerTable.help())
        The other samplers refuse an option they do not take. --skip every-step evaluates the model \
        on every step (`all` is still taken); every10 evaluates every 10th step and t <= 50 (145).
        --model takes a run folder or its model/ (or model-ema/): with --weights ema (the default) \
        the run's EMA weights (model-ema/) are used when it has them, else model/; --weights raw \
        picks model/. Final images are clipped to the data range [-0.5, 0.5] unless --no-clip; \
        --fid scores what is written. A model trained with --prediction-type v_prediction or sample is \
        sampled through its output's eps (docs/sampling.md); the run's scheduler/ says which, \
        --prediction-type gives it for a bare folder.
        Image i draws all its noise from a stream keyed by (--seed, i): the images are the same at \
        any rank count. Rank 0 gathers them and writes samples.png, samples.npy ([n,32,32] float32; [n,C,32,32] for C > 1 channels) \
        and, with --animate, samples.gif.

        A class-conditional model (`train --conditional`) is sampled with --class: a class name \
        (a model trained with --data: the class names in its run's data.json; else Fashion-MNIST's, quoted when it has a space: "Ankle boot"), its index 0-9, or all (--n a multiple \
        of 10, n/10 images per class in order; samples.png then has one labelled row per class), and \
        classifier-free guidance eps = eps_uncond + w (eps_cond - eps_uncond) with --guidance-scale w \
        (default \(OptionCheck.format(ClassGuidance.defaultScale)); 0 unconditional, 1 conditional; both \
        predictions in one model call of 2x the batch). An unconditional model refuses --class.

        Example: mpirun -np 2 --bind-to none launcher sample --model runs/x/model --sampler ddim --steps 50
        """)

    @Option(help: "A training run folder, or a diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors).")
    var model: String
    @Option(help: "A run's weights: ema (model-ema/, when the run has it; else model/) or raw (model/).") var weights: WeightsChoice = .ema
    @Option(help: "Sampler (the list above).") var sampler: SamplerName = .ddpm
    @Option(help: "Sampling steps (\(takers(.steps))).") var steps: Int?
    @Option(help: "DDIM eta, in [0, 1] (0 deterministic, 1 DDPM-like noise) (\(takers(.eta))).") var eta: Double?
    @Option(help: "Timestep spacing: leading|trailing|linspace (diffusers), uniform|quadratic (ddim).") var spacing: SpacingName?
    @Option(help: "Which steps evaluate the model (\(takers(.skip))).") var skip: EvaluationSkip?
    @OptionGroup var solver: SolverFlags
    @OptionGroup var clip: ClipFlag
    @Option(help: "Number of images, in 1...100000.") var n = 256
    @Option(help: "Seed of the per-image noise streams.") var seed: UInt64 = 0
    @Option(help: "Last beta of the linear noise schedule the model was trained with, in (1e-4, 1).") var betaMax = 0.01
    @Option(help: ArgumentHelp("What the model outputs (diffusers' prediction_type); default: the run's scheduler/"
                               + "scheduler_config.json beside the model folder, else epsilon.", valueName: PredictionType.names))
    var predictionType: PredictionType?
    @Option(help: "Output folder (default runs/sample-<date-time>).") var out: String?
    @Option(help: "Start from this x_T (.npy, [n,C,32,32]) instead of drawing it.") var noise: String?
    @Option(name: .customLong("class"), help: ArgumentHelp("Class-conditional models: a class name (Fashion-MNIST's: "
                                                           + FashionMNIST.classNames.joined(separator: ", ")
                                                           + "; a model trained with --data: its data.json's class names; "
                                                           + "case, spaces and punctuation ignored), its index, or all.",
                                                           valueName: "name|index|all"),
            completion: ClassChoice.defaultCompletionKind)
    var classText: String?
    @Option(help: ArgumentHelp("Classifier-free guidance scale w, in [0, \(OptionCheck.format(ClassGuidance.maxScale))], with --class "
                               + "(default \(OptionCheck.format(ClassGuidance.defaultScale))).", valueName: "w"))
    var guidanceScale: Double?
    @Flag(help: "Also write samples.gif: the predicted x0 of the first images over the steps.") var animate = false
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Also compute FID and KID against real Fashion-MNIST, or --reference PATH (options as `launcher fid`); writes samples_statistics.npz.")
    var fid = false
    @OptionGroup(title: "FID and KID (with --fid)") var fidOptions: FIDOptions
    @OptionGroup var convolution: ConvolutionOptions

    func validate() throws {
        try OptionCheck.integer(n, "--n", 1...100_000)
        try OptionCheck.number(betaMax, "--beta-max", 1e-4, 1, lowerOpen: true, upperOpen: true)
        if fid { try OptionCheck.integer(n, "--n (with --fid)", 2...100_000) }
        if let guidanceScale {
            try OptionCheck.number(guidanceScale, "--guidance-scale", 0, ClassGuidance.maxScale)
            guard classText != nil else { throw ValidationError("--guidance-scale needs --class (a class-conditional model)") }
        }
        if let classText {
            // The names of a --data run are in its data.json; a path that is not a run gives Fashion-MNIST's.
            let names = (try? DataRecord.near(model: model)?.classNames) ?? FashionMNIST.classNames
            do {
                _ = try ClassChoice.parse(classText, names: names).labels(count: n, classes: names.count)
            } catch {
                throw ValidationError("The value '\(classText)' is invalid for '--class <name|index|all>': \(error)")
            }
        }
        // Sampler, steps, eta, spacing and skip are checked before any work.
        _ = try SamplerSpec.parse(sampler, steps: steps, eta: eta, spacing: spacing, skip: skip, solver: solver.options)
    }

    /// The classes and scale for `config`: required by a class-conditional model, refused by an unconditional one.
    /// `names`: the model's class names (its run's data.json, else Fashion-MNIST's).
    func classGuidance(for config: UNetConfig, names: [String]) throws -> ClassGuidance? {
        guard let classes = config.guidanceClasses else {
            if classText != nil { throw SamplingError.classNotSupported }
            return nil  // unconditional and no --class: the plain sampler
        }
        guard let classText else { throw SamplingError.classRequired(classes: classes) }
        let choice = try ClassChoice.parse(classText, names: Array(names.prefix(classes)))
        return try ClassGuidance(choice: choice, count: n, scale: guidanceScale ?? ClassGuidance.defaultScale,
                                 classes: classes)
    }

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "sample")) { comm in
            let threads = try threads.configure(comm)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("sample-"))
            let spec = try SamplerSpec.parse(sampler, steps: steps, eta: eta, spacing: spacing, skip: skip, solver: solver.options)
            let schedule = NoiseSchedule(betaEnd: betaMax)
            let (unet, x_T, guidance, folder) = try comm.together {
                let folder = try RunWeights.resolve(model, weights: weights)
                let unet = try DiffusersFolder.load(from: folder.path)
                if let predictionType { unet.predictionType = predictionType }
                if fid { try fidOptions.requireClassifierInput(size: unet.config.sampleSize, channels: unet.config.outChannels, source: model) }
                let names = try DataRecord.near(model: folder.path)?.classNames ?? FashionMNIST.classNames
                let guidance = try classGuidance(for: unet.config, names: names)
                return (unet, try noise.map { try SampleFiles.readNoise($0, count: n, size: unet.config.sampleSize, channels: unet.config.inChannels) },
                        guidance, folder)
            }
            // Outside `together`: it is a collective, and every rank must reach it.
            unet.context.convolutions = try convolution.resolve(for: unet.config, .sampling, report: comm.isRoot, agreeingOn: comm)
            let sampler = try spec.makeSampler(schedule: schedule)
            let totalSteps = sampler.timesteps.count
            if comm.isRoot {
                try FileError.createFolder(directory)
                print("sampling \(n) images with \(spec) (\(totalSteps) steps, \(sampler.plannedModelEvaluations) model evaluations) "
                      + "on \(comm.size) rank(s) x \(threads) thread(s), convolutions \(unet.context.convolutions)"
                      + (guidance.map { ", class \(classText ?? ""), guidance scale \(OptionCheck.format($0.scale))" } ?? ""))
                print("weights: \(folder.path) (\(folder.weights.label))" + (clip.clip ? "; final images clipped to [-0.5, 0.5]" : "; final images not clipped"))
            }
            let animation = animate && comm.isRoot ? SampleAnimation(totalSteps: totalSteps) : nil
            let bar = SamplingProgressBar(label: "sample", group: comm) { done, seconds in
                String(format: "%.1f steps/s", Double(done) / max(seconds, 1e-9))
            }
            let t0 = Date()
            let result = try ShardedSampling.generate(model: unet, spec: spec, schedule: schedule, count: n, seed: seed,
                                                      group: comm, initialNoise: x_T, guidance: guidance, clip: clip.clip) { i, total, x0 in
                animation?.record(step: i, totalSteps: total, x0: x0)
                bar.step(i, of: total)
            }
            bar.finish()
            let seconds = Date().timeIntervalSince(t0)
            if let images = result.images {
                try SampleFiles.write(images: images, to: directory)
                if let guidance, classText?.lowercased() == "all" {
                    let names = try DataRecord.near(model: folder.path)?.classNames ?? FashionMNIST.classNames
                    try SampleFiles.writeClassGrid(images: images, classes: guidance.nullClass, names: names, to: directory + "/samples.png")
                }
                try animation?.write(to: directory + "/samples.gif")
                print(String(format: "%d images in %.1f s (%.2f img/s, %d model evaluations, %.2f evaluations/s)",
                             n, seconds, Double(n) / seconds, result.modelEvaluations, Double(result.modelEvaluations) / seconds))
                print("wrote \(directory)/samples.png, samples.npy" + (animate ? ", samples.gif" : ""))
            }
            if fid {  // every rank: features of its own images, statistics reduced to rank 0
                try fidOptions.report(comm, localImages: result.local, localRange: result.localRange,
                                      statisticsPath: directory + "/samples_statistics.npz")
            }
        }
    }
}
