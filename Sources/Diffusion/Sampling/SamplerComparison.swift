import Foundation

/// The original write-up's comparison of samplers on one model, plus DDIM (eta 0) at few
/// steps and the few-step samplers (DPM-Solver++ 2M, its SDE form, Euler ancestral) at 10-25
/// evaluations: for each, model evaluations, wall time, FID and KID of n images, for the EMA
/// and the raw weights.
public enum SamplerComparison {
    public struct Entry: Sendable {
        /// The row's short, stable name (`compare-samplers --only`), e.g. "ddim-recipe-every10".
        public let id: String
        public let label: String
        public let spec: SamplerSpec
        /// A row of the headline figure (FID against evaluations), scored on more images.
        public let headline: Bool

        public init(id: String, label: String, spec: SamplerSpec, headline: Bool = false) {
            self.id = id; self.label = label; self.spec = spec; self.headline = headline
        }

        /// The sampler's name, as rows and file names show it.
        public var sampler: String { spec.name.rawValue }
    }

    /// Samplers compared at several step counts: one line each in the plot.
    public static let families: Set<String> = Set([SamplerName.ddim, .dpmSolverPlusPlus, .sdeDPMSolverPlusPlus, .eulerAncestral]
        .map(\.rawValue))

    /// The step counts of the few-step samplers.
    public static let fewSteps = [10, 15, 20, 25]

    /// The five samplers of the original table (docs/recipe.md) and DDIM eta=0 at 10, 20, 50, 100 steps.
    public static let standard: [Entry] = [
        Entry(id: "ddpm-recipe", label: "DDPM ancestral, t%3==0 or t<50 (recipe)", spec: .ddpm(skip: .recipe), headline: true),
        Entry(id: "ddpm-diffusers", label: "diffusers DDPMScheduler, 366 steps", spec: .ddpmDiffusers(steps: 366, spacing: .leading)),
        Entry(id: "ddim-diffusers", label: "diffusers DDIMScheduler, 366 steps, eta 0",
              spec: .ddimDiffusers(steps: 366, eta: 0, spacing: .leading)),
        Entry(id: "ddim-recipe-367", label: "DDIM eta 1, t=999..1, 367 evaluations", spec: .ddimRecipe(eta: 1, skip: .evaluate367)),
        Entry(id: "ddim-recipe-every10", label: "DDIM eta 1, every 10th step and t<=50", spec: .ddimRecipe(eta: 1, skip: .every10)),
    ] + [10, 20, 50, 100].map { Entry(id: "ddim-\($0)", label: "DDIM eta 0, \($0) steps", spec: .ddim(steps: $0, eta: 0, spacing: .uniform)) }
      + fewSteps.map { Entry(id: "dpmsolver++-\($0)", label: "DPM-Solver++ 2M, \($0) steps",
                             spec: .dpmSolver(steps: $0, config: .init(algorithm: .dpmSolverPlusPlus)), headline: true) }
      + fewSteps.map { Entry(id: "sde-dpmsolver++-\($0)", label: "SDE-DPM-Solver++ 2M, \($0) steps",
                             spec: .dpmSolver(steps: $0, config: .init(algorithm: .sdeDPMSolverPlusPlus)), headline: true) }
      + fewSteps.map { Entry(id: "euler-ancestral-\($0)", label: "Euler ancestral, \($0) steps",
                             spec: .eulerAncestral(steps: $0, spacing: .linspace), headline: true) }

    public struct Row: Codable, Sendable {
        public let label: String, sampler: String
        public let modelEvaluations: Int
        public let seconds: Double
        public let fid: Double
        public let kidMean: Double?, kidStd: Double?
        public let images: Int
        /// "ema" or "raw"; nil in comparisons from before EMA (raw weights).
        public let weights: String?

        public init(label: String, sampler: String, modelEvaluations: Int, seconds: Double, fid: Double,
                    kidMean: Double?, kidStd: Double?, images: Int, weights: String? = nil) {
            self.label = label; self.sampler = sampler; self.modelEvaluations = modelEvaluations
            self.seconds = seconds; self.fid = fid; self.kidMean = kidMean; self.kidStd = kidStd; self.images = images
            self.weights = weights
        }
    }

    public static func markdown(_ rows: [Row], title: String) -> String {
        var s = "\(title)\n\n| sampler | weights | n | model evals | wall time (s) | FID | KID (x1e3) |\n|---|---|---:|---:|---:|---:|---:|\n"
        for r in rows {
            let kid = r.kidMean.map { m in String(format: "%.2f ± %.2f", m * 1e3, (r.kidStd ?? 0) * 1e3) } ?? "-"
            s += String(format: "| %@ | %@ | %d | %d | %.1f | %.2f | %@ |\n", r.label, r.weights ?? "raw", r.images,
                        r.modelEvaluations, r.seconds, r.fid, kid)
        }
        return s
    }

    /// FID against model evaluations: each family (`families`) one line per weights, the
    /// other samplers one point each.
    public static func plot(_ rows: [Row]) -> LinePlot {
        var plot = LinePlot(title: "FID against model evaluations", xLabel: "model evaluations per image",
                            yLabel: "FID (lower is better)")
        let weights = rows.map { $0.weights ?? "raw" }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        func suffix(_ w: String) -> String { weights.count > 1 ? " (\(w))" : "" }
        let families = rows.map(\.sampler).filter { Self.families.contains($0) }
            .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for family in families {
            for w in weights {
                let line = rows.filter { $0.sampler == family && ($0.weights ?? "raw") == w }
                    .sorted { $0.modelEvaluations < $1.modelEvaluations }
                guard !line.isEmpty else { continue }
                plot.series.append(.init(label: family + suffix(w), x: line.map { Double($0.modelEvaluations) },
                                         y: line.map(\.fid), markers: true))
            }
        }
        for r in rows where !Self.families.contains(r.sampler) {
            let short = r.sampler + (r.label.contains("every 10") ? " every10" : "") + suffix(r.weights ?? "raw")
            plot.series.append(.init(label: short, x: [Double(r.modelEvaluations)], y: [r.fid], markers: true))
        }
        plot.width = 1000
        return plot
    }
}

extension SamplerComparison {
    /// Samples `count(entry)` images (the same `seed`) with each entry, split across the group, and
    /// scores them with FID/KID. Rank 0 writes each sampler's grid of the first 64 images to
    /// `directory`/samples_<i>_<sampler>[_<weights>].png, logs one line per sampler and gets the rows;
    /// the other ranks get []. Collective. The time of a sampler runs from a barrier to a
    /// barrier after the last rank's images, without scoring. `weights` labels the rows.
    public static func run(_ entries: [Entry], model: UNet2DModel, weights: String? = nil, schedule: NoiseSchedule,
                           count: (Entry) -> Int, seed: UInt64, clip: Bool = true,
                           fid: FIDEvaluation.Settings, directory: String, group: Collectives,
                           log: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for (i, entry) in entries.enumerated() {
            let n = count(entry)
            let spec = entry.spec
            let planned = try Sampling.plannedModelEvaluations(spec: spec, schedule: schedule)
            let (result, seconds) = try ShardedSampling.timedGenerate(
                label: "[\(i + 1)] \(entry.sampler)", model: model, spec: spec, schedule: schedule, count: n, seed: seed,
                group: group, clip: clip)
            let report = try FIDEvaluation.evaluate(localImages: result.local, localRange: result.localRange,
                                                    settings: fid, group: group)
            if let images = result.images, let report {
                // Gray or RGB, as the model makes them.
                try SampleFiles.writeGrid(images: images.gather(Array(0..<min(64, n))),
                                          to: directory + "/samples_\(i + 1)_\(entry.sampler)" + (weights.map { "_" + $0 } ?? "") + ".png")
                if i == 0, let reference = report.lines.first { log(reference) }
                let row = Row(label: entry.label, sampler: entry.sampler, modelEvaluations: planned,
                              seconds: seconds, fid: report.fid, kidMean: report.kid?.mean,
                              kidStd: report.kid?.std, images: n, weights: weights)
                rows.append(row)
                log(String(format: "[%d] %@%@, n = %d: %d evaluations, %.1f s, FID %.2f, KID %.4f", i + 1, entry.label,
                           weights.map { " (\($0))" } ?? "", n, planned, seconds, report.fid, report.kid?.mean ?? .nan))
            }
        }
        return rows
    }
}
