/// Rank 0's progress bar for a training run: steps of the run, with the loss and images/s
/// smoothed over about ten steps.
public final class TrainingProgress {
    let bar: ProgressBar?
    let trainer: Trainer
    var loss: Double?, imagesPerSecond: Double?

    public init(trainer: Trainer) {
        self.trainer = trainer
        bar = trainer.group.isRoot ? ProgressBar(total: trainer.totalSteps, label: "train") : nil
    }

    public func record(_ r: Trainer.StepReport) {
        guard let bar else { return }
        bar.total = trainer.totalSteps
        let smoothed = loss.map { 0.9 * $0 + 0.1 * r.loss } ?? r.loss
        let ips = Double(r.images) / r.seconds
        let rate = imagesPerSecond.map { 0.9 * $0 + 0.1 * ips } ?? ips
        loss = smoothed; imagesPerSecond = rate
        bar.update(done: r.step + 1,
                   info: String(format: "epoch %d  loss %.4f  %.1f img/s", r.epoch + 1, smoothed, rate))
    }

    /// A line of its own between two redraws of the bar (rank 0).
    public func log(_ line: String) {
        guard let bar else { return }
        if bar.interactive { StandardError.write("\r\u{1B}[K") }
        print(line)
    }

    public func finish() { bar?.finish() }
}

/// Rank 0's progress bar for a sampler: it counts what the sampler reports, its steps, and
/// learns their number from the first report.
public final class SamplingProgressBar {
    let label: String
    let enabled: Bool
    let info: ((_ steps: Int, _ seconds: Double) -> String)?
    private var bar: ProgressBar?

    /// `info` gets the steps done and the seconds they took since the first report, and is
    /// asked only once the bar has measured a rate (see `ProgressBar.minimumRateInterval`).
    public init(label: String, group: Collectives, info: ((_ steps: Int, _ seconds: Double) -> String)? = nil) {
        self.label = label; enabled = group.isRoot; self.info = info
    }

    /// For `onStep` of the samplers.
    public func step(_ index: Int, of total: Int) {
        guard enabled else { return }
        let bar = self.bar ?? ProgressBar(total: total, label: label)
        self.bar = bar
        bar.update(done: index + 1) { rate in rate.flatMap { rate in info?(rate.units, rate.seconds) } ?? "" }
    }

    public func finish() { bar?.finish() }
}
