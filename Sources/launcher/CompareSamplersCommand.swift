import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct CompareSamplersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-samplers",
        abstract: "Reproduce the original sampler comparison on one model: evaluations, time, FID, KID.",
        discussion: """
        Runs the five samplers of the original write-up (DDPM ancestral with the recipe's skips, \
        diffusers DDPM and DDIM with 366 steps, DDIM eta 1 with 367 evaluations and with every \
        10th step), DDIM eta 0 at 10, 20, 50 and 100 steps, and the few-step samplers \
        (DPM-Solver++ 2M, SDE-DPM-Solver++ 2M, Euler ancestral) at 10, 15, 20 and 25 steps, each on \
        the same images (same seed), split across the ranks. Headline rows (the recipe's DDPM and \
        the few-step samplers) use --headline-n images (1000), the others --n (256). With a run \
        folder that has EMA weights, both the EMA (model-ema/) and the raw weights (model/) are \
        compared (--weights both, the default). Final images are clipped to [-0.5, 0.5] before \
        scoring unless --no-clip. Writes comparison.md, comparison.json, fid_vs_evaluations.png \
        (every sampler family a line per weights) and a grid per sampler to --out. A model trained \
        on your data (`train --data`) is scored against it: --reference PATH --classifier DIR, a \
        classifier trained on that data (`train-classifier --data`; docs/data.md).

        Rows (--only takes their names):
        \(SamplerComparison.standard.map { "  " + $0.id.padding(toLength: 22, withPad: " ", startingAt: 0) + $0.label }
            .joined(separator: "\n"))
        """)

    enum Weights: String, ExpressibleByArgument, CaseIterable { case ema, raw, both }

    @Option(help: "A training run folder, its model/ or model-ema/, or any diffusers UNet2DModel folder.") var model: String?
    @Option(help: "Weights of a run: both (EMA and raw, when the run has EMA), ema or raw.") var weights: Weights = .both
    @Option(help: "Images per sampler for the other rows, in 2...100000.") var n = 256
    @Option(help: "Images per sampler for the headline rows (recipe DDPM, few-step samplers), in 2...100000.") var headlineN = 1000
    @Option(help: "Seed of the per-image noise streams (the same for every sampler).") var seed: UInt64 = 0
    @Option(help: "Last beta of the linear noise schedule the model was trained with, in (1e-4, 1).") var betaMax = 0.01
    @Option(help: "Output folder (default runs/compare-<date-time>).") var out: String?
    @Option(parsing: .upToNextOption, help: "Only these rows, by name (e.g. --only ddpm-recipe ddim-recipe-every10).")
    var only: [ComparisonRowName] = []
    @Option(help: "A line describing the model's training, put above the table.") var modelNote: String?
    @OptionGroup var clip: ClipFlag
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var convolution: ConvolutionOptions
    @Flag(help: "Sample nothing: redraw fid_vs_evaluations.png from the comparison.json in --out.") var replot = false
    @OptionGroup(title: "FID and KID") var fidOptions: FIDOptions

    var entries: [SamplerComparison.Entry] {
        only.isEmpty ? SamplerComparison.standard : only.map(\.entry)
    }

    func validate() throws {
        if replot {
            guard out != nil else { throw ValidationError("--replot needs --out: the folder with comparison.json") }
            return
        }
        guard model != nil else { throw ValidationError("Missing expected argument '--model <model>'") }
        try OptionCheck.integer(n, "--n", 2...100_000)
        try OptionCheck.integer(headlineN, "--headline-n", 2...100_000)
        try OptionCheck.number(betaMax, "--beta-max", 1e-4, 1, lowerOpen: true, upperOpen: true)
        for e in entries { _ = try e.spec.makeSampler(schedule: NoiseSchedule(betaEnd: betaMax)) }
    }

    func run() throws {
        if replot, let out {
            let path = out + "/comparison.json"
            let bytes = try FileBytes.read(path)
            guard let rows = try? JSONDecoder().decode([SamplerComparison.Row].self, from: Data(bytes)) else {
                throw FileError(path: path, "expected the rows compare-samplers writes (label, sampler, "
                                + "modelEvaluations, seconds, fid, images), found something else")
            }
            try writePlot(rows, to: out)
            print("wrote \(out)/fid_vs_evaluations.png")
            return
        }
        guard let model else { return }
        try runOnWorld(agreeing: agreedFields(command: "compare-samplers")) { comm in
            let threads = try threads.configure(comm)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("compare-"))
            let folders = try comm.together { try modelFolders(model) }
            let schedule = NoiseSchedule(betaEnd: betaMax)
            if comm.isRoot {
                try FileError.createFolder(directory)
                print("comparing samplers on \(folders.map { "\($0.path) (\($0.weights.rawValue))" }.joined(separator: " and ")): "
                      + "\(headlineN) images for headline rows, \(n) for the others, \(comm.size) rank(s) x \(threads) thread(s)"
                      + (clip.clip ? ", final images clipped to [-0.5, 0.5]" : ", final images not clipped"))
            }
            var rows: [SamplerComparison.Row] = []
            var convolutions: ConvolutionBackend?
            for folder in folders {
                let unet = try comm.together {
                    let unet = try DiffusersFolder.load(from: folder.path)
                    if let classes = unet.config.guidanceClasses {
                        throw ValidationError("\(folder.path) is class-conditional (\(classes) classes): compare-samplers runs unconditional "
                                              + "models; `launcher guidance-sweep --sampler ...` measures a conditional one with any sampler")
                    }
                    try fidOptions.requireClassifierInput(size: unet.config.sampleSize, channels: unet.config.outChannels, source: folder.path)
                    return unet
                }
                // Outside `together`: a collective, reached by every rank; once (the folders are
                // one run's EMA and raw weights, one architecture).
                if convolutions == nil {
                    convolutions = try convolution.resolve(for: unet.config, .sampling, report: comm.isRoot, agreeingOn: comm)
                }
                unet.context.convolutions = convolutions!
                rows += try SamplerComparison.run(entries, model: unet, weights: folder.weights.rawValue, schedule: schedule,
                                                  count: { $0.headline ? headlineN : n }, seed: seed, clip: clip.clip,
                                                  fid: fidOptions.settings, directory: directory, group: comm,
                                                  log: { print($0) })
            }
            guard comm.isRoot else { return }
            let title = "Sampler comparison: \(model), n = \(headlineN) per headline sampler and \(n) for the others, seed \(seed), "
                + "\(comm.size) rank(s) x \(threads) thread(s), final images " + (clip.clip ? "clipped to [-0.5, 0.5]" : "not clipped")
                + (modelNote.map { "\n\nModel: " + $0 } ?? "")
            let md = SamplerComparison.markdown(rows, title: title)
            try FileBytes.writeAtomically(Array(md.utf8), to: directory + "/comparison.md")
            try writeJSON(rows, to: directory + "/comparison.json")
            try writePlot(rows, to: directory)
            print(md)
            print("wrote \(directory)/comparison.md, comparison.json, fid_vs_evaluations.png")
        }
    }

    /// The folders to compare: a run's EMA and raw weights (--weights both, when it has EMA), or one of them.
    private func modelFolders(_ model: String) throws -> [RunWeights.Resolved] {
        switch weights {
        case .ema: return [try RunWeights.resolve(model, weights: .ema)]
        case .raw: return [try RunWeights.resolve(model, weights: .raw)]
        case .both:
            let ema = try RunWeights.resolve(model, weights: .ema)
            return ema.weights == .ema && ema.hasBoth ? [ema, try RunWeights.resolve(model, weights: .raw)] : [ema]
        }
    }

    private func writePlot(_ rows: [SamplerComparison.Row], to directory: String) throws {
        let canvas = SamplerComparison.plot(rows).render()
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: directory + "/fid_vs_evaluations.png")
    }
}

/// A row of `SamplerComparison.standard` by its short name (`Entry.id`): `compare-samplers --only`.
struct ComparisonRowName: ExpressibleByArgument {
    let entry: SamplerComparison.Entry

    init?(argument: String) {
        guard let entry = SamplerComparison.standard.first(where: { $0.id == argument }) else { return nil }
        self.entry = entry
    }

    static var allValueStrings: [String] { SamplerComparison.standard.map(\.id) }

    var defaultValueDescription: String { entry.id }
}
