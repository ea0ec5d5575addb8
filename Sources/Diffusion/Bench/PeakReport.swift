import Foundation

/// What `bench peak` reports: GFLOPS of each register-only loop (`ArithmeticPeak`) on every
/// thread, nil for a loop this CPU lacks. Its JSON is `bench peak --json`.
public struct PeakReport: Codable, Sendable {
    public struct Row: Codable, Sendable, Equatable {
        /// `ArithmeticPeak.Loop`'s name ("fp32 FMA 256-bit").
        public let loop: String
        public let gflops: Double?
    }

    public let threads: Int
    public let rows: [Row]

    public init(threads: Int, rows: [Row]) { self.threads = threads; self.rows = rows }

    /// Every loop on `threads` threads, each timed for about `seconds` (best of 3).
    public static func measure(threads: Int, seconds: Double) -> PeakReport {
        PeakReport(threads: threads, rows: ArithmeticPeak.Loop.allCases.map {
            Row(loop: $0.rawValue, gflops: ArithmeticPeak.measure($0, threads: threads, seconds: seconds))
        })
    }

    /// Peaks measured on demand, each loop once: the reports that need a few of them.
    public final class Peaks {
        let threads: Int
        private var measured: [ArithmeticPeak.Loop: Double?] = [:]
        public init(threads: Int) { self.threads = threads }

        public subscript(_ loop: ArithmeticPeak.Loop) -> Double? {
            if let known = measured[loop] { return known }
            let gflops = ArithmeticPeak.measure(loop, threads: threads)
            measured[loop] = gflops
            return gflops
        }

        /// fp32 FMA at the widest width this CPU has.
        public var fp32: Double? { self[.fma512] ?? self[.fma256] }
    }

    /// What `bench peak` prints: each loop's GFLOPS and its share per thread.
    public var summary: String {
        (["arithmetic peak, \(threads) threads:"] + rows.map { row in
            let name = row.loop.padding(toLength: 26, withPad: " ", startingAt: 0)
            guard let g = row.gflops else { return "  \(name)  not on this CPU" }
            return "  \(name)" + String(format: " %7.1f GFLOPS (%.1f a thread)", g, g / Double(threads))
        }).joined(separator: "\n")
    }
}
