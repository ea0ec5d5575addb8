import Foundation

/// metrics.csv of a training run (step, epoch, loss, lr, images_per_s), appended a row per
/// step by rank 0 and flushed, and the loss plot drawn from it.
public final class MetricsLog {
    public static let header = "step,epoch,loss,lr,images_per_s"
    public let path: String
    public private(set) var steps: [Int] = [], losses: [Double] = []
    private let file: FileBytes.AppendingFile

    /// Opens `path`, keeping only rows of steps before `keepBefore` (a resumed run rewrites
    /// what came after its checkpoint, so the file matches an uninterrupted run).
    public init(path: String, keepBefore: Int) throws {
        self.path = path
        var kept = [Self.header]
        if keepBefore > 0, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",")
                guard f.count == 5, let step = Int(f[0]), let loss = Double(f[2]), step < keepBefore else { continue }
                kept.append(String(line)); steps.append(step); losses.append(loss)
            }
        }
        try FileBytes.writeAtomically(Array((kept.joined(separator: "\n") + "\n").utf8), to: path)
        file = try FileBytes.AppendingFile(path: path)
    }

    /// Appends a row; a failed write (a full disk) throws a `FileError` naming metrics.csv.
    public func append(_ r: Trainer.StepReport) throws {
        let line = String(format: "%d,%d,%.6f,%.6e,%.2f\n", r.step, r.epoch, r.loss, r.lr, Double(r.images) / r.seconds)
        try file.append(Array(line.utf8))
        steps.append(r.step); losses.append(r.loss)
    }

    /// The loss curve (log scale) with a moving average over `window` steps.
    public func writeLossPlot(to path: String, window: Int = 25) throws {
        var plot = LinePlot(title: "Training loss", xLabel: "optimizer step", yLabel: "MSE loss", logY: true)
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
