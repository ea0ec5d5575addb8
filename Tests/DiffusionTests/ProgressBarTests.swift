import Foundation
import Testing
@testable import Diffusion

/// Progress written to a log (not a terminal): a line at most every `logEvery` seconds and
/// the finished line once, however often it is updated.
@Suite struct ProgressBarTests {
    final class Clock: @unchecked Sendable {
        var t = Date(timeIntervalSince1970: 0)
    }

    @Test func logOutputIsRateLimitedAndEndsOnce() {
        let clock = Clock()
        var lines: [String] = []
        let bar = ProgressBar(total: 999, label: "sample", logEvery: 5, interactive: false,
                              now: { clock.t }, write: { lines.append($0) })
        // 999 steps over 20 simulated seconds, then stray updates past the end.
        for i in 0..<999 {
            clock.t = Date(timeIntervalSince1970: Double(i) * 20 / 999)
            bar.update(done: i + 1)
        }
        for _ in 0..<630 { bar.update(done: 999) }
        bar.finish()
        // First line at t = 0, then every 5 s (5, 10, 15 s), then the finished line.
        #expect(lines.count == 5, "\(lines)")
        #expect(lines.filter { $0.contains("100.0%") }.count == 1)
        #expect(lines.last?.contains("999/999") == true)
        #expect(lines.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
    }

    @Test func counterBeyondTheTotalStopsAtTheTotal() {
        var lines: [String] = []
        let bar = ProgressBar(total: 10, label: "x", interactive: false, write: { lines.append($0) })
        bar.update(done: 25)
        #expect(lines.count == 1 && lines[0].contains("10/10"))
    }
}
