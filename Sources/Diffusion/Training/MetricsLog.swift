import Foundation

/// metrics.csv of a training run, appended a row per step by rank 0 and flushed, and the loss
/// plot drawn from it. train_seconds is the run's training wall time after the step
/// (evaluations not counted); fid and kid are filled on the row of a step after which the
/// run evaluated itself (`TrainingEvaluation`), empty elsewhere.
public final class MetricsLog {
    public static let header = "step,epoch,loss,lr,images_per_s,train_seconds,fid,kid"
    public let path: String
    public private(set) var steps: [Int] = [], losses: [Double] = []
    /// train_seconds of the last row kept from an earlier session (0 for a new run, or rows
    /// written before the column existed): where a resumed run's training clock continues.
    public private(set) var keptTrainSeconds = 0.0
    private let file: FileBytes.AppendingFile

    /// Opens `path`, keeping only rows of steps before `keepBefore` (a resumed run rewrites
    /// what came after its checkpoint, so the file matches an uninterrupted run).
    public init(path: String, keepBefore: Int) throws {
        self.path = path
        var kept = [Self.header]
        if keepBefore > 0, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n").dropFirst() {
                // Rows of 5 fields come from runs before train_seconds, fid and kid existed.
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                guard f.count == 5 || f.count == 8, let step = Int(f[0]), let loss = Double(f[2]), step < keepBefore else { continue }
                kept.append(f.count == 8 ? String(line) : line + ",,,"); steps.append(step); losses.append(loss)
                keptTrainSeconds = f.count == 8 ? Double(f[5]) ?? keptTrainSeconds : keptTrainSeconds
            }
        }
        try FileBytes.writeAtomically(Array((kept.joined(separator: "\n") + "\n").utf8), to: path)
        file = try FileBytes.AppendingFile(path: path)
    }

    /// Appends a row; a failed write (a full disk) throws a `FileError` naming metrics.csv.
    public func append(_ r: Trainer.StepReport, trainSeconds: Double = 0, evaluation: EvaluationRecord? = nil) throws {
        let scores = evaluation.map { e in [e.fid, e.kid].map { $0.map { String(format: "%.6g", $0) } ?? "" }.joined(separator: ",") } ?? ","
        let line = String(format: "%d,%d,%.6f,%.6e,%.2f,%.3f,", r.step, r.epoch, r.loss, r.lr, Double(r.images) / r.seconds, trainSeconds)
            + scores + "\n"
        try file.append(Array(line.utf8))
        steps.append(r.step); losses.append(r.loss)
    }

    /// The loss curve (log scale) with a moving average over `window` steps; `loss` names
    /// what was minimized (`TrainingTarget.lossLabel`).
    public func writeLossPlot(to path: String, loss: String = "MSE on eps", window: Int = 25) throws {
        var plot = LinePlot(title: "Training loss", xLabel: "optimizer step", yLabel: loss, logY: true)
        let x = steps.map(Double.init)
        plot.series.append(.init(label: "per step", x: x, y: losses))
        if losses.count > window {
            var avg: [Double] = [], sum = 0.0
            for (i, l) in losses.enumerated() {
                sum += l
                if i >= window { sum -= losses[i - window] }
                avg.append(sum / Double(min(i + 1, window)))
            }
            plot.series.append(.init(label: "mean of \(window)", x: x, y: avg))
        }
        let canvas = plot.render()
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: path)
    }
}
