import Foundation

/// Training runs side by side by what their evaluations measured (`evaluations.jsonl`): one
/// plot of FID against training minutes, a series per run, and a table of each run's last
/// and best scores. What `launcher compare-runs` writes.
public struct RunComparison {
    public struct Row: Codable, Equatable, Sendable {
        /// The run's name in the plot and table (its folder's name unless given).
        public let name: String
        public let folder: String
        public let evaluations: Int
        public let steps: Int
        public let trainSeconds: Double
        public let lastFID: Double?
        public let lastKID: Double?
        public let bestFID: Double?
        public let bestStep: Int?
        public let n: Int
        public let sampler: String
    }

    public let rows: [Row]
    public let series: [(name: String, records: [EvaluationRecord])]

    /// Reads each folder's evaluations.jsonl; `names` (if given) label them, one per folder.
    public init(folders: [String], names: [String]? = nil) throws {
        precondition(names == nil || names!.count == folders.count, "one name per folder")
        var rows: [Row] = [], series: [(String, [EvaluationRecord])] = []
        for (i, folder) in folders.enumerated() {
            let path = folder + "/" + EvaluationLog.fileName
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw FileError(path: path, "cannot be read: is \(folder) a run trained with --eval-every?")
            }
            var records: [EvaluationRecord] = []
            for (number, line) in text.split(separator: "\n").enumerated() {
                do { records.append(try JSONDecoder().decode(EvaluationRecord.self, from: Data(line.utf8))) } catch {
                    throw FileError(path: path, "line \(number + 1) is not an evaluation record (\(error))")
                }
            }
            guard let last = records.last else { throw FileError(path: path, "holds no evaluation") }
            let name = names?[i] ?? URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
            let best = records.filter { $0.fid != nil }.min { $0.fid! < $1.fid! }
            rows.append(Row(name: name, folder: folder, evaluations: records.count, steps: last.step,
                            trainSeconds: last.trainSeconds, lastFID: last.fid, lastKID: last.kid, bestFID: best?.fid,
                            bestStep: best?.step, n: last.n, sampler: last.sampler))
            series.append((name, records))
        }
        self.rows = rows
        self.series = series
    }

    /// FID against training minutes, one series per run (log scale).
    public func plot(title: String = "FID against training time") -> Canvas {
        var plot = LinePlot(title: title, xLabel: "training minutes (evaluations not counted)", yLabel: "FID", logY: true)
        plot.width = 900; plot.height = 560
        plot.series = series.map { name, records in
            let scored = records.filter { $0.fid != nil }
            return .init(label: name, x: scored.map { $0.trainSeconds / 60 }, y: scored.map { $0.fid! }, markers: true)
        }
        return plot.render()
    }

    /// A Markdown table, best last FID first.
    public var markdown: String {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "-" }
        var lines = ["| run | steps | training time | FID (last) | KID x1e3 (last) | best FID (step) | n |",
                     "|---|---:|---:|---:|---:|---:|---:|"]
        for r in rows.sorted(by: { ($0.lastFID ?? .infinity) < ($1.lastFID ?? .infinity) }) {
            lines.append("| \(r.name) | \(r.steps) | \(WallDuration.format(r.trainSeconds)) | \(f(r.lastFID, "%.3f")) | "
                         + "\(f(r.lastKID.map { $0 * 1000 }, "%.2f")) | \(f(r.bestFID, "%.3f")) (\(r.bestStep.map(String.init) ?? "-")) | \(r.n) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
