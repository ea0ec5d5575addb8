import Foundation
import Testing
@testable import Diffusion

/// Progress written to a log (not a terminal): a line at most every `logEvery` seconds and
/// the finished line once, however often it is updated; no rate or ETA before one is measured.
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

    /// A bar made when the first unit is already done (as the sampler's is) used to divide by
    /// next to no time: "2796202.7 steps/s" and ETA 00:00 after one step.
    @Test func noRateOrETAUntilOneIsMeasured() throws {
        let clock = Clock()
        var lines: [String] = []
        var rates: [ProgressBar.Rate?] = []
        let bar = ProgressBar(total: 100, label: "sample", interactive: true, now: { clock.t }, write: { lines.append($0) })
        func step(_ done: Int, at seconds: Double) {
            clock.t = Date(timeIntervalSince1970: seconds)
            bar.update(done: done) { rate in rates.append(rate); return "" }
        }
        step(1, at: 0.000_001)
        #expect(lines.count == 1 && lines[0].contains("ETA --:--"), "\(lines)")
        // A second update too soon after the first still measures nothing.
        step(2, at: 0.5)
        #expect(lines.count == 2 && lines[1].contains("ETA --:--"), "\(lines)")
        // Two steps in 1.5 s since the first update: 4/3 steps/s, 97 steps (73 s) to go.
        step(3, at: 1.500_001)
        let rate = try #require(rates.last ?? nil)
        #expect(rate.units == 2 && abs(rate.perSecond - 4.0 / 3) < 1e-3, "\(rate)")
        #expect(rates.dropLast().allSatisfy { $0 == nil }, "\(rates)")
        #expect(lines.last?.contains("ETA 01:13") == true, "\(lines)")
    }

    /// The plain `update(done:)` a bar is mostly driven with: its first line has no ETA.
    @Test func firstLineOfALogHasNoETA() {
        let clock = Clock()
        var lines: [String] = []
        let bar = ProgressBar(total: 1000, label: "train", logEvery: 5, interactive: false,
                              now: { clock.t }, write: { lines.append($0) })
        clock.t = Date(timeIntervalSince1970: 0.001)
        bar.update(done: 1)
        clock.t = Date(timeIntervalSince1970: 10.001)
        bar.update(done: 101)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.contains("ETA --:--") == true, "\(lines)")
        // 100 steps in 10 s since the first line: 899 to go at 10 steps/s.
        #expect(lines.last?.contains("ETA 01:30") == true, "\(lines)")
    }
}
