import Foundation

/// A one-line progress bar with rate and ETA. On a terminal it is redrawn in place at most a
/// few times a second; elsewhere (a log file, CI) it prints a plain line at most every
/// `logEvery` seconds, and the finished line once. Create it on rank 0 only.
public final class ProgressBar {
    public let total: Int
    public let label: String
    let interactive: Bool
    let logEvery: TimeInterval
    let now: () -> Date
    let write: (String) -> Void
    let start: Date
    private var lastDraw = Date.distantPast
    private var finished = false

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

    /// `done` of `total` finished, in the unit `total` counts (counting from `startedAt` for
    /// the rate, so a resumed run's ETA uses only this session's speed); `info` is appended.
    public func update(done: Int, startedAt: Int = 0, info: String = "") {
        guard !finished else { return }
        let done = min(max(done, 0), total)
        let t = now()
        let complete = done == total
        guard complete || t.timeIntervalSince(lastDraw) >= (interactive ? 0.2 : logEvery) else { return }
        lastDraw = t
        finished = complete
        let elapsed = t.timeIntervalSince(start)
        let rate = Double(done - startedAt) / max(elapsed, 1e-9)
        let eta = complete ? 0 : rate > 0 ? Double(total - done) / rate : .infinity
        let width = 24
        let filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "%@ [%@] %5.1f%% %d/%d  %@  elapsed %@ ETA %@", label, bar, 100 * Double(done) / Double(total),
                          done, total, info, Self.duration(elapsed), Self.duration(eta))
        write(interactive ? "\r\u{1B}[K" + line + (complete ? "\n" : "") : line + "\n")
    }

    /// Ends the bar's line on a terminal if it did not reach the total (a stopped run).
    public func finish() {
        if interactive && !finished && lastDraw != .distantPast { write("\n") }
        finished = true
    }
}
