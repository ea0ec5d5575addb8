import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct GuidanceSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guidance-sweep",
        abstract: "Class accuracy and FID of a class-conditional model against the guidance scale.",
        discussion: """
        For each --scales w (default 0 1 2 3 5): --n images with --class all (n/K per class for K \\
        classes, the same seed at every w), split across the ranks; the classifier classifies them \\
        (accuracy per class and overall: how often it names the class asked for) and FID and KID \\
        compare them with the real test images. Writes guidance.csv, guidance.json, guidance.md, \\
        guidance.png (accuracy and FID against w) and a labelled grid per scale (grid_w<w>.png) to \\
        --out; `--replot` redraws guidance.png from guidance.json. docs/conditional.md.

        A model trained on your data (`train --data --conditional`) is scored against that data: \\
        --reference PATH --classifier DIR, a classifier trained on the same labelled data \\
        (`train-classifier --data`), whose classes must be the model's; the class names come from \\
        the run's data.json (docs/data.md).
        """)

    @Option(help: "A class-conditional diffusers UNet2DModel folder (`train --conditional`).") var model: String?
    @Option(parsing: .upToNextOption, help: "Guidance scales, each in [0, \(OptionCheck.format(ClassGuidance.maxScale))].")
    var scales: [Double] = GuidanceSweep.standardScales
    @Option(help: "Images per scale, a multiple of the model's class count (10 for Fashion-MNIST) in 2...100000.") var n = 1000
    @Option(help: "Sampler (see `launcher sample --help`).") var sampler: SamplerName = .ddim
    @Option(help: "Sampling steps (ddim, ddpm-diffusers, ddim-diffusers).") var steps: Int?
    @Option(help: "DDIM eta, in [0, 1].") var eta: Double?
    @Option(help: "Which steps evaluate the model (\(takers(.skip))).") var skip: EvaluationSkip?
    @Option(help: "Seed of the per-image noise streams (the same for every scale).") var seed: UInt64 = 0
    @Option(help: "Last beta of the linear noise schedule the model was trained with, in (1e-4, 1).") var betaMax = 0.01
    @Option(help: "Output folder (default runs/guidance-<date-time>).") var out: String?
    @Option(help: "A run's weights: ema (model-ema/, when the run has it; else model/) or raw (model/).") var weights: WeightsChoice = .ema
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var convolution: ConvolutionOptions
    @Flag(help: "Sample nothing: redraw guidance.png from the guidance.json in --out.") var replot = false
    @OptionGroup(title: "FID and KID") var fidOptions: FIDOptions

    func validate() throws {
        if replot {
            guard out != nil else { throw ValidationError("--replot needs --out: the folder with guidance.json") }
            return
        }
        guard model != nil else { throw ValidationError("Missing expected argument '--model <model>'") }
        try OptionCheck.integer(n, "--n", 2...100_000)
        guard !scales.isEmpty else { throw ValidationError("--scales needs at least one guidance scale") }
        for w in scales { try OptionCheck.number(w, "--scales", 0, ClassGuidance.maxScale) }
        try OptionCheck.number(betaMax, "--beta-max", 1e-4, 1, lowerOpen: true, upperOpen: true)
        _ = try SamplerSpec.parse(sampler, steps: steps, eta: eta, skip: skip)
    }

    func run() throws {
        if replot, let out {
            let path = out + "/guidance.json"
            guard let rows = try? JSONDecoder().decode([GuidanceSweep.Row].self, from: Data(try FileBytes.read(path))) else {
                throw FileError(path: path, "expected the rows guidance-sweep writes (scale, accuracy, perClassAccuracy, fid, ...)")
            }
            try writePlot(rows, to: out)
            print("wrote \(out)/guidance.png")
            return
        }
        guard let model else { return }
        try runOnWorld(agreeing: agreedFields(command: "guidance-sweep")) { comm in
            let threads = try threads.configure(comm)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("guidance-"))
            let (unet, folder, names) = try comm.together {
                let folder = try RunWeights.resolve(model, weights: weights)
                let unet = try DiffusersFolder.load(from: folder.path)
                guard let classes = unet.config.guidanceClasses else { throw SamplingError.classNotSupported }
                _ = try ClassChoice.all.labels(count: n, classes: classes)
                try fidOptions.requireClassifierInput(size: unet.config.sampleSize, channels: unet.config.outChannels, source: folder.path)
                let names = try DataRecord.near(model: folder.path)?.classNames ?? FashionMNIST.classNames
                try GuidanceSweep.checkClasses(model: Array(names.prefix(classes)), classifier: fidOptions.settings.classifierDirectory)
                return (unet, folder, Array(names.prefix(classes)))
            }
            // Outside `together`: it is a collective, and every rank must reach it.
            unet.context.convolutions = try convolution.resolve(for: unet.config, .sampling, report: comm.isRoot, agreeingOn: comm)
            let spec = try SamplerSpec.parse(sampler, steps: steps, eta: eta, skip: skip)
            if comm.isRoot {
                try FileError.createFolder(directory)
                print("guidance sweep on \(folder.path) (\(folder.weights.label) weights): w in \(scales.map(OptionCheck.format)), \(n) images each (class all), "
                      + "sampler \(spec), \(comm.size) rank(s) x \(threads) thread(s), convolutions \(unet.context.convolutions)")
            }
            let rows = try GuidanceSweep.run(scales: scales, model: unet, spec: spec, schedule: NoiseSchedule(betaEnd: betaMax),
                                             count: n, seed: seed, fid: fidOptions.settings, names: names, directory: directory,
                                             group: comm, log: { print($0) })
            guard comm.isRoot else { return }
            let title = "Guidance sweep: \(model), n = \(n) per scale (\(n / names.count) per class), sampler \(spec), seed \(seed)"
            let md = GuidanceSweep.markdown(rows, title: title)
            try FileBytes.writeAtomically(Array(md.utf8), to: directory + "/guidance.md")
            try FileBytes.writeAtomically(Array(GuidanceSweep.csv(rows).utf8), to: directory + "/guidance.csv")
            try writeJSON(rows, to: directory + "/guidance.json")
            try writePlot(rows, to: directory)
            print(md)
            print("wrote \(directory)/guidance.md, guidance.csv, guidance.json, guidance.png, grid_w*.png")
        }
    }

    private func writePlot(_ rows: [GuidanceSweep.Row], to directory: String) throws {
        let canvas = GuidanceSweep.plot(rows)
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: directory + "/guidance.png")
    }
}
