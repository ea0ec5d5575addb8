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
        10th step) and DDIM eta 0 at 10, 20, 50 and 100 steps, each on the same --n images (same \
        seed), split across the ranks. Writes comparison.md, comparison.json, fid_vs_evaluations.png \
        and a grid per sampler to --out.
        """)

    @Option(help: "A diffusers UNet2DModel folder.") var model: String?
    @Option(help: "Images per sampler, in 2...100000.") var n = 256
    @Option(help: "Seed of the per-image noise streams (the same for every sampler).") var seed: UInt64 = 0
    @Option(help: "Last beta of the linear noise schedule the model was trained with, in (1e-4, 1).") var betaMax = 0.01
    @Option(help: "Output folder (default runs/compare-<date-time>).") var out: String?
    @Option(parsing: .upToNextOption, help: "Only these samplers: indices into the table, 1-based (e.g. --only 1 5).")
    var only: [Int] = []
    @Option(help: "A line describing the model's training, put above the table.") var modelNote: String?
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Sample nothing: redraw fid_vs_evaluations.png from the comparison.json in --out.") var replot = false
    @OptionGroup(title: "FID and KID") var fidOptions: FIDOptions

    var entries: [SamplerComparison.Entry] {
        only.isEmpty ? SamplerComparison.standard : only.map { SamplerComparison.standard[$0 - 1] }
    }

    func validate() throws {
        if replot {
            guard out != nil else { throw ValidationError("--replot needs --out: the folder with comparison.json") }
            return
        }
        guard model != nil else { throw ValidationError("Missing expected argument '--model <model>'") }
        try OptionCheck.integer(n, "--n", 2...100_000)
        try OptionCheck.number(betaMax, "--beta-max", 1e-4, 1, lowerOpen: true, upperOpen: true)
        for i in only { try OptionCheck.integer(i, "--only", 1...SamplerComparison.standard.count) }
        for e in entries { _ = try e.spec() }
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
            let unet = try comm.together {
                let unet = try DiffusersFolder.load(from: model)
                if let classes = unet.config.guidanceClasses {
                    throw ValidationError("\(model) is class-conditional (\(classes) classes): compare-samplers runs unconditional "
                                          + "models; `launcher guidance-sweep --sampler ...` measures a conditional one with any sampler")
                }
                try FIDOptions.requireClassifierSize(unet.config.sampleSize, source: model)
                return unet
            }
            let schedule = NoiseSchedule(betaEnd: betaMax)
            if comm.isRoot {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                print("comparing samplers on \(model): \(n) images each, \(comm.size) rank(s) x \(threads) thread(s)")
            }
            let rows = try SamplerComparison.run(entries, model: unet, schedule: schedule, count: n, seed: seed,
                                                 fid: fidOptions.settings, directory: directory, group: comm,
                                                 log: { print($0) })
            guard comm.isRoot else { return }
            let title = "Sampler comparison: \(model), n = \(n) per sampler, seed \(seed), \(comm.size) rank(s) x \(threads) thread(s)"
                + (modelNote.map { "\n\nModel: " + $0 } ?? "")
            let md = SamplerComparison.markdown(rows, title: title)
            try FileBytes.writeAtomically(Array(md.utf8), to: directory + "/comparison.md")
            try writeJSON(rows, to: directory + "/comparison.json")
            try writePlot(rows, to: directory)
            print(md)
            print("wrote \(directory)/comparison.md, comparison.json, fid_vs_evaluations.png")
        }
    }

    private func writePlot(_ rows: [SamplerComparison.Row], to directory: String) throws {
        let canvas = SamplerComparison.plot(rows).render()
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: directory + "/fid_vs_evaluations.png")
    }
}
