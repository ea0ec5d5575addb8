import Foundation
import Testing
@testable import Diffusion

/// The axes of the loss and FID plots: enough ticks to read a value off, labels that differ.
struct LinePlotTests {
    /// log10 range of lo...hi.
    func logTicks(_ lo: Double, _ hi: Double) -> [Double] { LinePlot.logTicks(log10(lo), log10(hi)) }

    @Test func logAxesOverDecadesTick1_2_5() {
        #expect(logTicks(0.009, 1.1) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1])
    }

    /// An FID from 4.1 down to 1.2 (a demo run) held one tick, 2; now every integer.
    @Test func logAxesUnderADecadeTickEveryInteger() {
        #expect(logTicks(1.1, 4.3) == [2, 3, 4])
        #expect(logTicks(0.95, 4.3) == [1, 2, 3, 4])
    }

    /// A plateau (FID 1.199 to 1.201): linear values, labelled apart.
    @Test func narrowLogAxesTickLinearly() {
        let ticks = logTicks(1.19, 1.21)
        #expect(ticks.count >= 3)
        #expect(ticks.allSatisfy { $0 >= 1.19 && $0 <= 1.21 })
        let labels = LinePlot.labels(ticks)
        #expect(Set(labels).count == labels.count, "\(labels)")
    }

    @Test func labelsKeepTheirShortFormWhereTheyDiffer() {
        #expect(LinePlot.labels([0.01, 0.02, 0.05]) == ["0.01", "0.02", "0.05"])
        #expect(LinePlot.labels([1, 2, 3]) == ["1", "2", "3"])
        #expect(LinePlot.labels([1.2, 1.25, 1.3]) == ["1.20", "1.25", "1.30"])
    }
}
