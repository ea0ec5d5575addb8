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
    @Flag(help: "Run the allreduces under train's stall check (nonblocking, polled, with arrival notices; docs/faults.md), to see what it costs.")
    var stallCheck = false

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
            if stallCheck { try comm.watchStalls(StallPolicy(warningSeconds: 60, timeoutSeconds: nil)) }
            let result = try AllreduceBenchmark.run(sizes: sizes, repeats: repeats, evictMegabytes: evictMb, group: comm)
            guard comm.isRoot else { return }
            print(result.formatted())
            if let json { try writeJSON(result, to: json) }
        }
    }
}
