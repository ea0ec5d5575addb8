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
    @Option(help: "Images per sampler.") var n = 256
    @Option(help: "Seed of the per-image noise streams (the same for every sampler).") var seed: UInt64 = 0
    @Option(help: "Last beta of the linear noise schedule the model was trained with.") var betaMax = 0.01
    @Option(help: "Output folder (default runs/compare-<date-time>).") var out: String?
    @Option(help: "Only these samplers (comma-separated indices into the table, 1-based).") var only: String?
    @Option(help: "A line describing the model's training, put above the table.") var modelNote: String?
    @Option(help: "Kernel threads per rank (default: cores on the host / ranks on the host).") var threads: Int?
    @Flag(help: "Sample nothing: redraw fid_vs_evaluations.png from the comparison.json in --out.") var replot = false
    @OptionGroup(title: "FID and KID") var fidOptions: FIDOptions

    func entries() throws -> [SamplerComparison.Entry] {
        guard let only else { return SamplerComparison.standard }
        return try only.split(separator: ",").map { s in
            guard let i = Int(s), (1...SamplerComparison.standard.count).contains(i) else {
                throw ValidationError("--only takes indices 1...\(SamplerComparison.standard.count), got '\(s)'")
            }
            return SamplerComparison.standard[i - 1]
        }
    }

    func validate() throws {
        if replot {
            guard out != nil else { throw ValidationError("--replot needs --out: the folder with comparison.json") }
            return
        }
        guard model != nil else { throw ValidationError("Missing expected argument '--model <model>'") }
        guard n >= 2 else { throw ValidationError("--n must be at least 2 for FID, got \(n)") }
        for e in try entries() { _ = try e.spec() }
    }

    func run() throws {
        if replot, let out {
            let path = out + "/comparison.json"
            let bytes = try FileBytes.read(path)
            guard let rows = try? JSONDecoder().decode([SamplerComparison.Row].self, from: Data(bytes)) else {
                throw RootError(message: "\(path): expected the rows compare-samplers writes (label, sampler, "
                                + "modelEvaluations, seconds, fid, images), found something else")
            }
            try writePlot(rows, to: out)
            print("wrote \(out)/fid_vs_evaluations.png")
            return
        }
        guard let model else { return }
        try runOnWorld { comm in
            let threads = try comm.configureThreads(requested: threads)
            let directory = try comm.broadcastString(out ?? defaultRunDirectory("compare-"))
            let unet = try DiffusersFolder.load(from: model)
            let schedule = NoiseSchedule(betaEnd: betaMax)
            if comm.isRoot {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                print("comparing samplers on \(model): \(n) images each, \(comm.size) rank(s) x \(threads) thread(s)")
            }
            var rows: [SamplerComparison.Row] = []
            for (i, entry) in try entries().enumerated() {
                let spec = try entry.spec()
                let planned = try Sampling.plannedModelEvaluations(spec: spec, schedule: schedule)
                let bar = comm.isRoot ? ProgressBar(total: try spec.makeSampler(schedule: schedule).timesteps.count,
                                                    label: "[\(i + 1)] \(entry.sampler)") : nil
                try comm.barrier()
                let t0 = Communicator.wtime()
                let result = try ShardedSampling.generate(model: unet, spec: spec, schedule: schedule, count: n,
                                                          seed: seed, group: comm) { step, _, _ in bar?.update(done: step + 1) }
                try comm.barrier()
                let seconds = Communicator.wtime() - t0
                bar?.finish()
                let report = try FIDEvaluation.evaluate(localImages: result.local, localRange: result.localRange,
                                                        settings: fidOptions.settings, group: comm)
                if let images = result.images, let report {
                    let grid = ImageGrid.make(images: images.gather(Array(0..<min(64, n))))
                    try PNG.write(grayscale: grid.pixels, width: grid.width, height: grid.height,
                                  to: directory + "/samples_\(i + 1)_\(entry.sampler).png")
                    let row = SamplerComparison.Row(label: entry.label, sampler: entry.sampler, modelEvaluations: planned,
                                                    seconds: seconds, fid: report.fid, kidMean: report.kid?.mean,
                                                    kidStd: report.kid?.std, images: n)
                    rows.append(row)
                    print(String(format: "[%d] %@: %d evaluations, %.1f s, FID %.2f, KID %.4f", i + 1, entry.label,
                                 planned, seconds, report.fid, report.kid?.mean ?? .nan))
                }
            }
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
