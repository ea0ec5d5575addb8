import Foundation

/// A one-line progress bar with rate and ETA. On a terminal it is redrawn in place at most a
/// few times a second; elsewhere (a log file, CI) it prints a plain line at most every
/// `logEvery` seconds, and the finished line once. Create it on rank 0 only.
public final class ProgressBar {
    /// Units to do; a run that re-plans its length (a time budget) changes it.
    public var total: Int { didSet { total = max(total, 1) } }
    public let label: String
    let interactive: Bool
    let logEvery: TimeInterval
    let now: () -> Date
    let write: (String) -> Void
    let start: Date
    private var lastDraw = Date.distantPast
    private var finished = false
    /// The first update: the rate is measured from it, not from `start`, because a bar is often
    /// made when the first unit is already done (`SamplingProgressBar`), so `start` to the
    /// first update holds no work, and when it does hold some (a training step's warm-up) that
    /// work is the least typical of the run. A resumed run's rate counts this session only.
    private var firstUpdate: (done: Int, at: Date)?

    /// A rate needs units finished after the first update, over at least this long. One
    /// update gives no interval at all (the first sampling step printed "2796202.7 steps/s"),
    /// and a few milliseconds between two updates measure scheduling noise as much as work;
    /// over a second the clock's and the scheduler's jitter are well under 1% of the interval.
    /// A terminal bar shows its rate after a second, a log's second line (after `logEvery`) has it.
    static let minimumRateInterval: TimeInterval = 1

    /// Units done per second since the first update, once it has been measured.
    public struct Rate {
        public let units: Int
        public let seconds: Double
        public var perSecond: Double { Double(units) / seconds }
    }

    /// `write` and `now` are stderr and the clock; tests pass their own.
    public init(total: Int, label: String, logEvery: TimeInterval = 5, interactive: Bool = isatty(2) != 0,
                now: @escaping () -> Date = Date.init,
                write: @escaping (String) -> Void = { StandardError.write($0) }) {
        self.total = max(total, 1); self.label = label; self.logEvery = logEvery
        self.interactive = interactive; self.now = now; self.write = write
        start = now()
    }

    public static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }

    /// `done` of `total` finished, in the unit `total` counts; `info` is appended.
    public func update(done: Int, info: String = "") {
        update(done: done) { _ in info }
    }

    /// As above, with `info` made only when a line is drawn, from the rate measured so far
    /// (nil until `minimumRateInterval` has passed with units done since the first update).
    public func update(done: Int, info: (Rate?) -> String) {
        guard !finished else { return }
        let done = min(max(done, 0), total)
        let t = now()
        let first = firstUpdate ?? (done, t)
        firstUpdate = first
        let complete = done == total
        guard complete || t.timeIntervalSince(lastDraw) >= (interactive ? 0.2 : logEvery) else { return }
        lastDraw = t
        finished = complete
        let rate = Self.rate(units: done - first.done, seconds: t.timeIntervalSince(first.at))
        let eta = complete ? 0 : rate.map { Double(total - done) / $0.perSecond } ?? .infinity
        let width = 24
        let filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "%@ [%@] %5.1f%% %d/%d  %@  elapsed %@ ETA %@", label, bar, 100 * Double(done) / Double(total),
                          done, total, info(rate), Self.duration(t.timeIntervalSince(start)), Self.duration(eta))
        write(interactive ? "\r\u{1B}[K" + line + (complete ? "\n" : "") : line + "\n")
    }

    static func rate(units: Int, seconds: Double) -> Rate? {
        units > 0 && seconds >= minimumRateInterval ? Rate(units: units, seconds: seconds) : nil
    }

    /// Ends the bar's line on a terminal if it did not reach the total (a stopped run).
    public func finish() {
        if interactive && !finished && lastDraw != .distantPast { write("\n") }
        finished = true
    }
}
