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

    @Option(parsing: .upToNextOption, help: "Message sizes in bytes (e.g. --sizes 4 1K 64M); K and M are 1024 and 1024².")
    var sizes = ["4", "64", "1K", "16K", "256K", "1M", "4M", "16M", "64M"].compactMap(ByteCount.init(argument:))
    @Option(help: "Timed samples per size (the median is reported), in 1...1000.") var repeats = 9
    @Option(help: "Before each sample, write this many MB of scratch memory on every rank, so the message starts out of cache as gradients do after backward (0: warm, back-to-back), in 0...65536.")
    var evictMb = 0
    @Option(help: "Also write the result as JSON to this file.") var json: String?

    func validate() throws {
        guard !sizes.isEmpty else { throw ValidationError("--sizes needs at least one size") }
        for size in sizes where size.bytes < 4 || size.bytes % 4 != 0 || size.bytes > 1 << 34 {
            throw OptionError("--sizes", "must be byte counts that are multiples of 4 in 4...16G (e.g. 4, 1K, 64M), got \(size.bytes)")
        }
        try OptionCheck.integer(repeats, "--repeats", 1...1000)
        try OptionCheck.integer(evictMb, "--evict-mb", 0...65_536)
    }

    func run() throws {
        let sizes = self.sizes.map(\.bytes)
        try runOnWorld(agreeing: agreedFields(command: "bench allreduce")) { comm in
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

/// Keeps the optimizer from dropping stores it sees no reader for.
@inline(never) func keep(_ value: Float) {}

