import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Allreduce (sum, in place) of Float buffers: median time per size, latency and bandwidth.",
        discussion: """
        Each size is timed `--repeats` times after a warm-up; one sample is a barrier, then the \
        allreduce run k times back to back (k large for small messages, so the clock resolves \
        them), divided by k; the slowest rank's time counts. Also prints the ring model's α \
        (latency: the fastest size up to 1 KB) and β (link bandwidth: the largest size, \
        latency taken off), which `launcher bench model-scaling` takes.

        Example: mpirun -np 2 --bind-to none --mca btl self,tcp launcher bench allreduce
        """)

    @Option(help: "Message sizes in bytes, comma-separated; K and M suffixes are 1024 and 1024².")
    var sizes = "4,64,1K,16K,256K,1M,4M,16M,64M"
    @Option(help: "Timed samples per size (the median is reported).") var repeats = 9
    @Option(help: "Before each sample, write this many MB of scratch memory on every rank, so the message starts out of cache as gradients do after backward (0: warm, back-to-back).")
    var evictMb = 0
    @Option(help: "Also write the result as JSON to this file.") var json: String?

    func validate() throws {
        _ = try parsedSizes()
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }

    func parsedSizes() throws -> [Int] {
        try sizes.split(separator: ",").map { field in
            let text = field.trimmingCharacters(in: .whitespaces)
            let unit: Int
            switch text.last {
            case "K", "k": unit = 1 << 10
            case "M", "m": unit = 1 << 20
            default: unit = 1
            }
            guard let number = Int(unit == 1 ? text : String(text.dropLast())), number * unit >= 4, number * unit % 4 == 0 else {
                throw ValidationError("--sizes: '\(text)' is not a byte count of at least 4 and a multiple of 4 (e.g. 4, 1K, 64M)")
            }
            return number * unit
        }
    }

    func run() throws {
        let sizes = try parsedSizes()
        try runOnWorld { comm in
            var buffer = [Float](repeating: 0, count: (sizes.max() ?? 4) / 4)  // zeros: sums stay finite
            var scratch = [Float](repeating: 0, count: evictMb * 250_000)
            var rows: [AllreduceBenchResult.Row] = []
            for bytes in sizes {
                let count = bytes / 4
                // Enough calls per sample that one sample lasts ~1 ms even for tiny messages.
                let calls = max(1, min(1000, (1 << 20) / bytes))
                var samples: [Double] = []
                try buffer.withUnsafeMutableBufferPointer { all in
                    let message = UnsafeMutableBufferPointer(rebasing: all[0..<count])
                    try comm.allreduce(message)  // warm-up: connections, buffers
                    for sample in 0..<repeats {
                        for i in stride(from: 0, to: scratch.count, by: 16) { scratch[i] = Float(sample) }
                        try comm.barrier()
                        let t0 = Communicator.wtime()
                        for _ in 0..<calls { try comm.allreduce(message) }
                        samples.append((Communicator.wtime() - t0) / Double(calls))
                    }
                }
                keep(scratch.last ?? 0)
                try comm.allreduce(&samples, op: .max)
                let t = ModelBenchmark.median(samples)
                rows.append(.init(bytes: bytes, callsPerSample: calls, seconds: t,
                                  algorithmBandwidth: Double(bytes) / t,
                                  busBandwidth: RingAllreduceCost.busBandwidth(ranks: comm.size, bytes: Double(bytes), seconds: t)))
            }
            guard comm.isRoot else { return }
            let fit = RingAllreduceCost.fit(ranks: comm.size, bytes: rows.map { Double($0.bytes) }, seconds: rows.map(\.seconds))
            let result = AllreduceBenchResult(ranks: comm.size, repeats: repeats, evictedMegabytes: evictMb, rows: rows,
                                              alphaSeconds: fit?.alpha, betaBytesPerSecond: fit?.beta)
            print(result.formatted())
            if let json { try writeJSON(result, to: json) }
        }
    }
}

struct AllreduceBenchResult: Codable {
    struct Row: Codable {
        let bytes: Int, callsPerSample: Int
        /// Median over samples of the slowest rank's time per call.
        let seconds: Double
        /// bytes / seconds.
        let algorithmBandwidth: Double
        /// 2(p-1)/p · bytes / seconds: what each link carried.
        let busBandwidth: Double
    }
    let ranks: Int, repeats: Int
    /// Runs combined by `bench scaling-report` (each size's fastest median); nil for one run.
    var runs: Int? = nil
    /// Scratch memory written before each sample (0: caches warm from the previous call).
    let evictedMegabytes: Int?
    let rows: [Row]
    /// The ring model's α and β (nil with one rank or a single size).
    let alphaSeconds: Double?, betaBytesPerSecond: Double?

    /// The ring model fitted to the rows (not the stored fields: files of older fits read alike).
    var cost: RingAllreduceCost? {
        RingAllreduceCost.fit(ranks: ranks, bytes: rows.map { Double($0.bytes) }, seconds: rows.map(\.seconds))
    }

    func formatted() -> String {
        let cache = (evictedMegabytes ?? 0) > 0 ? ", caches flushed (\(evictedMegabytes!) MB written) before each sample" : ""
        var lines = ["allreduce (sum, Float, in place) over \(ranks) rank(s), median of \(repeats) samples"
                     + ((runs ?? 1) > 1 ? ", fastest of \(runs!) runs" : "") + "\(cache):",
                     "       bytes        time     algbw GB/s   busbw GB/s"]
        for r in rows {
            lines.append(String(format: "%12d  ", r.bytes) + padLeft(formatSeconds(r.seconds), 10)
                         + String(format: "  %10.3f   %10.3f", r.algorithmBandwidth / 1e9, r.busBandwidth / 1e9))
        }
        if let cost {
            lines.append(String(format: "ring model: alpha = %.1f us (latency), beta = %.2f GB/s (link bandwidth)",
                                cost.alpha * 1e6, cost.beta / 1e9))
        }
        return lines.joined(separator: "\n")
    }
}

/// Keeps the optimizer from dropping stores it sees no reader for.
@inline(never) func keep(_ value: Float) {}

func padLeft(_ s: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - s.count)) + s
}

/// "12.3 us", "4.56 ms", "1.23 s".
func formatSeconds(_ s: Double) -> String {
    switch s {
    case ..<1e-3: return String(format: "%.1f us", s * 1e6)
    case ..<1: return String(format: "%.2f ms", s * 1e3)
    default: return String(format: "%.2f s", s)
    }
}
