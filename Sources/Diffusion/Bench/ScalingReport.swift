import Foundation

/// Written by scripts/bench-scaling: how the measurements were made.
public struct ScalingRunMeta: Codable {
    public let command: String, date: String, commit: String, host: String, cores: Int
    public let preset: String, batch: Int, steps: Int, sampleImages: Int, sampleSteps: Int, repeats: Int
    /// /proc/loadavg before and after: other work on the machine skews every number.
    public let loadAverage: String?
}

/// The JSON files of one bench-scaling run, grouped by (kind, ranks, transport).
public struct ScalingFolder {
    public let meta: ScalingRunMeta?
    public var train: [String: [TrainBenchResult]] = [:]
    public var sample: [String: [SampleBenchResult]] = [:]
    public var allreduceRuns: [String: [AllreduceBenchResult]] = [:]

    /// Per transport, the runs combined: each size's fastest median.
    public var allreduce: [String: AllreduceBenchResult] {
        allreduceRuns.compactMapValues { runs in
            guard let first = runs.first else { return nil }
            let rows = first.rows.indices.map { i in
                runs.map { $0.rows[i] }.min { $0.seconds < $1.seconds }!
            }
            let fit = RingAllreduceCost.fit(ranks: first.ranks, bytes: rows.map { Double($0.bytes) }, seconds: rows.map(\.seconds))
            return AllreduceBenchResult(ranks: first.ranks, repeats: first.repeats, runs: runs.count,
                                        evictedMegabytes: first.evictedMegabytes, rows: rows,
                                        alphaSeconds: fit?.alpha, betaBytesPerSecond: fit?.beta)
        }
    }

    public static func key(_ ranks: Int, _ transport: String) -> String { "np\(ranks)-\(transport)" }

    public init(directory: String) throws {
        let decoder = JSONDecoder()
        func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
            let path = directory + "/" + name
            do { return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: path))) }
            catch { throw FileError(path: path, "\(error)") }
        }
        meta = FileManager.default.fileExists(atPath: directory + "/meta.json") ? try load(ScalingRunMeta.self, "meta.json") : nil
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names where name.hasSuffix(".json") {
            // kind-np<P>-<transport>[-r<K>].json
            let parts = name.dropLast(5).split(separator: "-").map(String.init)
            guard parts.count >= 3, parts[1].hasPrefix("np") else { continue }
            let key = Self.key(Int(parts[1].dropFirst(2)) ?? 0, parts[2])
            switch parts[0] {
            case "train": train[key, default: []].append(try load(TrainBenchResult.self, name))
            case "sample": sample[key, default: []].append(try load(SampleBenchResult.self, name))
            case "allreduce":
                let run = try load(AllreduceBenchResult.self, name)
                if let other = allreduceRuns[parts[2]]?.first, other.rows.map(\.bytes) != run.rows.map(\.bytes) {
                    throw FileError(path: directory + "/" + name, "other message sizes than the other allreduce runs")
                }
                allreduceRuns[parts[2], default: []].append(run)
            default: continue
            }
        }
        guard !train.isEmpty else { throw FileError(path: directory, "no train-np<P>-<transport>-r<K>.json files") }
    }

    public func report(predictPreset: ModelPreset, alphaFrom: String) throws -> ScalingReport {
        let median = ModelBenchmark.median
        let allreduce = self.allreduce
        // Rows: every (ranks, transport) measured, by ranks then transport.
        let keys = Set(train.keys).union(sample.keys).sorted { a, b in
            let (ra, rb) = (Int(a.dropFirst(2).prefix { $0 != "-" }) ?? 0, Int(b.dropFirst(2).prefix { $0 != "-" }) ?? 0)
            return ra != rb ? ra < rb : a < b
        }
        var rows: [ScalingReport.Row] = []
        for key in keys {
            let t = train[key] ?? [], s = sample[key] ?? []
            let ranks = t.first?.ranks ?? s.first?.ranks ?? 0
            rows.append(.init(
                ranks: ranks, transport: String(key.split(separator: "-", maxSplits: 1)[1]), repeats: max(t.count, s.count),
                trainImagesPerSecond: t.isEmpty ? nil : median(t.map(\.imagesPerSecond)),
                trainEfficiency: nil,
                allreduceSeconds: t.isEmpty ? nil : median(t.map(\.allreduceSeconds)),
                allreduceShare: t.isEmpty ? nil : median(t.map(\.allreduceShare)),
                imbalanceWaitSeconds: t.isEmpty ? nil : median(t.map(\.imbalanceWaitSeconds)),
                sampleImagesPerSecond: s.isEmpty ? nil : median(s.map(\.imagesPerSecond)),
                sampleEfficiency: nil))
        }
        // Efficiency vs the 1-rank run (the same two cores): throughput(P) / throughput(1).
        let one = rows.first { $0.ranks == 1 }
        rows = rows.map { r in
            var r = r
            if let a = r.trainImagesPerSecond, let b = one?.trainImagesPerSecond { r.trainEfficiency = a / b }
            if let a = r.sampleImagesPerSecond, let b = one?.sampleImagesPerSecond { r.sampleEfficiency = a / b }
            return r
        }

        // The model against this machine: the gradient allreduce predicted from α and β vs the
        // time bench train measured.
        let measuredPreset = ModelPreset(rawValue: train.values.first?.first?.preset ?? "small")
        let gradientBytes = (train.values.first?.first?.gradientMegabytes ?? 0) * 1e6
        let bucketBytes = 4 * Double(train.values.first?.first?.bucketFloats ?? 1 << 22)
        var checks: [ScalingReport.ForecastCheck] = []
        // With overlap, bench train times only what backward left over: nothing to check.
        let overlapped = train.values.first?.first?.overlap ?? false
        for (name, bench) in allreduce.sorted(by: { $0.key < $1.key }) where !overlapped {
            guard let cost = bench.cost else { continue }
            let transport = name.split(separator: "-").first.map(String.init) ?? name
            for r in rows where r.transport == transport && r.ranks > 1 {
                let step = DataParallelStepForecast(secondsPerImage: 0, forwardFraction: 0, gradientBytes: gradientBytes,
                                                    bucketBytes: bucketBytes, allreduce: cost)
                checks.append(.init(allreduce: name, ranks: r.ranks,
                                    predictedSeconds: step.predict(ranks: r.ranks, batchPerRank: 0).allreduceSeconds,
                                    measuredSeconds: r.allreduceSeconds))
            }
        }

        var prediction: ScalingForecast?
        if let one = one?.trainImagesPerSecond, let measuredPreset, measuredPreset.referenceCost != nil {
            let measuredAlpha = allreduce[alphaFrom]?.cost?.alpha
            let inputs = try ScalingForecastInputs(
                preset: predictPreset, measuredPreset: measuredPreset, measuredImagesPerSecond: one,
                alpha: measuredAlpha ?? 25e-6,
                alphaSource: measuredAlpha != nil ? "measured, \(alphaFrom), \(allreduce[alphaFrom]!.ranks) ranks" : "typical TCP value",
                linkGbit: [10, 100], ranks: [8, 16, 32, 64, 128, 256], batches: [16, 32, 64, 128],
                bucketBytes: bucketBytes)
            prediction = inputs.predict()
        }
        return ScalingReport(meta: meta, rows: rows, allreduce: allreduce, forecastChecks: checks, prediction: prediction)
    }
}

public struct ScalingReport: Codable {
    public struct Row: Codable {
        public let ranks: Int, transport: String, repeats: Int
        public let trainImagesPerSecond: Double?
        public var trainEfficiency: Double?
        public let allreduceSeconds: Double?, allreduceShare: Double?, imbalanceWaitSeconds: Double?
        public let sampleImagesPerSecond: Double?
        public var sampleEfficiency: Double?
    }
    public struct ForecastCheck: Codable {
        /// The allreduce measurement whose α and β made the prediction.
        public let allreduce: String, ranks: Int
        public let predictedSeconds: Double, measuredSeconds: Double?
    }
    public let meta: ScalingRunMeta?
    public let rows: [Row]
    public let allreduce: [String: AllreduceBenchResult]
    public let forecastChecks: [ForecastCheck]
    public let prediction: ScalingForecast?

    public func formatted() -> String {
        var lines: [String] = []
        if let m = meta {
            lines.append("\(m.command)")
            lines.append("\(m.date), commit \(m.commit), \(m.host) (\(m.cores) cores); preset \(m.preset), "
                         + "train: global batch \(m.batch), \(m.steps) timed steps; sample: \(m.sampleImages) images x \(m.sampleSteps) DDIM steps; "
                         + "median of \(m.repeats) run(s)" + (m.loadAverage.map { "; load average \($0)" } ?? ""))
        }
        func cell(_ v: Double?, _ format: String, _ scale: Double = 1) -> String {
            v.map { String(format: format, $0 * scale) } ?? "-"
        }
        lines.append("efficiency = images/s at P ranks / images/s at 1 rank (the same cores: ideal is 100%)")
        lines.append("")
        lines.append("| ranks | transport | train img/s | train eff. | allreduce ms | share of step | wait ms | sample img/s | sample eff. |")
        lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows {
            lines.append("| \(r.ranks) | \(r.ranks == 1 ? "-" : r.transport) | \(cell(r.trainImagesPerSecond, "%.2f")) | "
                         + "\(cell(r.trainEfficiency, "%.0f%%", 100)) | \(cell(r.allreduceSeconds, "%.1f", 1e3)) | "
                         + "\(cell(r.allreduceShare, "%.1f%%", 100)) | \(cell(r.imbalanceWaitSeconds, "%.1f", 1e3)) | "
                         + "\(cell(r.sampleImagesPerSecond, "%.2f")) | \(cell(r.sampleEfficiency, "%.0f%%", 100)) |")
        }
        for (name, bench) in allreduce.sorted(by: { $0.key < $1.key }) {
            lines.append("")
            lines.append("allreduce micro-benchmark, \(name):")
            lines.append(bench.formatted())
        }
        if !forecastChecks.isEmpty {
            lines.append("")
            lines.append("ring model vs bench train (gradient allreduce per step):")
            for c in forecastChecks {
                lines.append("  \(c.ranks) ranks, α and β from \(c.allreduce): predicted \(formatSeconds(c.predictedSeconds)), measured "
                             + (c.measuredSeconds.map(formatSeconds) ?? "-"))
            }
        }
        if let prediction {
            lines.append("")
            lines.append(prediction.formatted())
        }
        return lines.joined(separator: "\n")
    }
}
