import Foundation

/// The original write-up's comparison of samplers on one model, plus DDIM (eta 0) at few
/// steps: for each, model evaluations, wall time, FID and KID of n images.
public enum SamplerComparison {
    public struct Entry: Sendable {
        public let label: String
        public let sampler: String
        public let steps: Int?, eta: Double?, skip: String?

        public func spec() throws -> SamplerSpec {
            try SamplerSpec.parse(sampler, steps: steps, eta: eta, skip: skip)
        }
    }

    /// The five samplers of the original table (docs/recipe.md) and DDIM eta=0 at 10, 20, 50, 100 steps.
    public static let standard: [Entry] = [
        Entry(label: "DDPM ancestral, t%3==0 or t<50 (recipe)", sampler: "ddpm", steps: nil, eta: nil, skip: "recipe"),
        Entry(label: "diffusers DDPMScheduler, 366 steps", sampler: "ddpm-diffusers", steps: 366, eta: nil, skip: nil),
        Entry(label: "diffusers DDIMScheduler, 366 steps, eta 0", sampler: "ddim-diffusers", steps: 366, eta: 0, skip: nil),
        Entry(label: "DDIM eta 1, t=999..1, 367 evaluations", sampler: "ddim-recipe", steps: nil, eta: 1, skip: "367"),
        Entry(label: "DDIM eta 1, every 10th step and t<=50", sampler: "ddim-recipe", steps: nil, eta: 1, skip: "every10"),
        Entry(label: "DDIM eta 0, 10 steps", sampler: "ddim", steps: 10, eta: 0, skip: nil),
        Entry(label: "DDIM eta 0, 20 steps", sampler: "ddim", steps: 20, eta: 0, skip: nil),
        Entry(label: "DDIM eta 0, 50 steps", sampler: "ddim", steps: 50, eta: 0, skip: nil),
        Entry(label: "DDIM eta 0, 100 steps", sampler: "ddim", steps: 100, eta: 0, skip: nil),
    ]

    public struct Row: Codable, Sendable {
        public let label: String, sampler: String
        public let modelEvaluations: Int
        public let seconds: Double
        public let fid: Double
        public let kidMean: Double?, kidStd: Double?
        public let images: Int

        public init(label: String, sampler: String, modelEvaluations: Int, seconds: Double, fid: Double,
                    kidMean: Double?, kidStd: Double?, images: Int) {
            self.label = label; self.sampler = sampler; self.modelEvaluations = modelEvaluations
            self.seconds = seconds; self.fid = fid; self.kidMean = kidMean; self.kidStd = kidStd; self.images = images
        }
    }

    public static func markdown(_ rows: [Row], title: String) -> String {
        var s = "\(title)\n\n| sampler | model evals | wall time (s) | FID | KID (x1e3) |\n|---|---:|---:|---:|---:|\n"
        for r in rows {
            let kid = r.kidMean.map { m in String(format: "%.2f ± %.2f", m * 1e3, (r.kidStd ?? 0) * 1e3) } ?? "-"
            s += String(format: "| %@ | %d | %.1f | %.2f | %@ |\n", r.label, r.modelEvaluations, r.seconds, r.fid, kid)
        }
        return s
    }

    /// FID against model evaluations; DDIM eta=0 at several step counts as one line.
    public static func plot(_ rows: [Row]) -> LinePlot {
        var plot = LinePlot(title: "FID against model evaluations", xLabel: "model evaluations per image",
                            yLabel: "FID (lower is better)")
        let ddim = rows.filter { $0.sampler == "ddim" }
        if !ddim.isEmpty {
            plot.series.append(.init(label: "DDIM eta 0, S steps", x: ddim.map { Double($0.modelEvaluations) },
                                     y: ddim.map(\.fid), markers: true))
        }
        for r in rows where r.sampler != "ddim" {
            let short = r.sampler + (r.label.contains("every 10") ? " every10" : "")
            plot.series.append(.init(label: short, x: [Double(r.modelEvaluations)], y: [r.fid], markers: true))
        }
        plot.width = 900
        return plot
    }
}

extension SamplerComparison {
    /// Samples `count` images (the same `seed`) with each entry, split across the group, and
    /// scores them with FID/KID. Rank 0 writes each sampler's grid of the first 64 images to
    /// `directory`/samples_<i>_<sampler>.png, logs one line per sampler and gets the rows;
    /// the other ranks get []. Collective. The time of a sampler runs from a barrier to a
    /// barrier after the last rank's images, without scoring.
    public static func run(_ entries: [Entry], model: UNet2DModel, schedule: NoiseSchedule, count n: Int, seed: UInt64,
                           fid: FIDEvaluation.Settings, directory: String, group: Collectives,
                           log: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for (i, entry) in entries.enumerated() {
            let spec = try entry.spec()
            let planned = try Sampling.plannedModelEvaluations(spec: spec, schedule: schedule)
            let bar = SamplingProgressBar(label: "[\(i + 1)] \(entry.sampler)", group: group)
            try group.barrier()
            let t0 = ResourceUsage.now()
            let result = try ShardedSampling.generate(model: model, spec: spec, schedule: schedule, count: n,
                                                      seed: seed, group: group) { step, total, _ in bar.step(step, of: total) }
            try group.barrier()
            let seconds = ResourceUsage.now() - t0
            bar.finish()
            let report = try FIDEvaluation.evaluate(localImages: result.local, localRange: result.localRange,
                                                    settings: fid, group: group)
            if let images = result.images, let report {
                let grid = ImageGrid.make(images: images.gather(Array(0..<min(64, n))))
                try PNG.write(grayscale: grid.pixels, width: grid.width, height: grid.height,
                              to: directory + "/samples_\(i + 1)_\(entry.sampler).png")
                let row = Row(label: entry.label, sampler: entry.sampler, modelEvaluations: planned,
                              seconds: seconds, fid: report.fid, kidMean: report.kid?.mean,
                              kidStd: report.kid?.std, images: n)
                rows.append(row)
                log(String(format: "[%d] %@: %d evaluations, %.1f s, FID %.2f, KID %.4f", i + 1, entry.label,
                           planned, seconds, report.fid, report.kid?.mean ?? .nan))
            }
        }
        return rows
    }
}
