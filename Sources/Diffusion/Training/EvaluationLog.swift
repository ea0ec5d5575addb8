import Foundation

/// evaluations.jsonl of a training run (one `EvaluationRecord` a line, appended by rank 0 and
/// flushed) and fid.png drawn from it: FID against training minutes and against images seen.
public final class EvaluationLog {
    public static let fileName = "evaluations.jsonl"
    public static let plotName = "fid.png"
    public let path: String
    public private(set) var records: [EvaluationRecord] = []
    private let file: FileBytes.AppendingFile

    /// Opens `path`, keeping the records of evaluations at or before step `keepThrough` (a
    /// resumed run continues the series from its checkpoint; later ones are done again).
    public init(path: String, keepThrough: Int) throws {
        self.path = path
        if keepThrough > 0, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let decoder = JSONDecoder()
            records = text.split(separator: "\n").compactMap { try? decoder.decode(EvaluationRecord.self, from: Data($0.utf8)) }
                .filter { $0.step <= keepThrough }
        }
        try FileBytes.writeAtomically(Array(records.map(Self.jsonLine).joined().utf8), to: path)
        file = try FileBytes.AppendingFile(path: path)
    }

    public func append(_ record: EvaluationRecord) throws {
        try file.append(Array(Self.jsonLine(record).utf8))
        records.append(record)
    }

    static func jsonLine(_ record: EvaluationRecord) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(record)) ?? Data(), as: UTF8.self) + "\n"
    }

    /// FID against training minutes (top) and against images seen (bottom).
    public func writePlot(to path: String) throws {
        let scored = records.filter { $0.fid != nil }
        let fid = scored.map { $0.fid! }
        var byTime = LinePlot(title: "FID during training", xLabel: "training minutes (evaluations not counted)", yLabel: "FID",
                              logY: true)
        byTime.series = [.init(label: "FID", x: scored.map { $0.trainSeconds / 60 }, y: fid, markers: true)]
        var byImages = LinePlot(title: "FID against images seen", xLabel: "training images seen", yLabel: "FID", logY: true)
        byImages.series = [.init(label: "FID", x: scored.map { Double($0.imagesSeen) }, y: fid, markers: true)]
        let canvas = Canvas.stacked([byTime.render(), byImages.render()])
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: path)
    }
}
