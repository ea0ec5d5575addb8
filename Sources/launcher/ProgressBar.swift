import Foundation

/// A one-line progress bar on stderr with rate and ETA, redrawn at most a few times a second.
/// Create it on rank 0 only; other ranks stay quiet. On a non-terminal (CI logs) it prints a
/// plain line every `logEvery` seconds instead of redrawing.
final class ProgressBar {
    let total: Int
    let label: String
    let start = Date()
    private var lastDraw = Date.distantPast
    private let interactive = isatty(2) != 0
    private let logEvery: TimeInterval

    init(total: Int, label: String, logEvery: TimeInterval = 10) {
        self.total = max(total, 1); self.label = label; self.logEvery = logEvery
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }

    /// `done` of `total` finished (counting from `startedAt` for the rate, so a resumed run's
    /// ETA uses only this session's speed); `info` is appended (loss, images/s, ...).
    func update(done: Int, startedAt: Int = 0, info: String = "", force: Bool = false) {
        let now = Date()
        let interval = interactive ? 0.2 : logEvery
        guard force || done >= total || now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done - startedAt) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let width = 24
        let filled = min(width, width * done / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let pct = 100 * Double(done) / Double(total)
        let line = String(format: "%@ [%@] %5.1f%% %d/%d  %@  elapsed %@ ETA %@", label, bar, pct, done, total, info,
                          Self.duration(elapsed), Self.duration(eta))
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
