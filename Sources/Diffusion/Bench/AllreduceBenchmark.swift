/// What `launcher bench allreduce` measures: the in-place Float sum of the group, per message size.
public enum AllreduceBenchmark {
    /// Each size is timed `repeats` times after a warm-up; one sample is a barrier, then the
    /// allreduce run back to back enough times to last ~1 ms, divided by that count. The
    /// slowest rank's time counts; the median sample is kept. `evictMegabytes` of scratch
    /// memory are written before each sample (0: caches stay warm). Collective: every rank
    /// gets the same result.
    public static func run(sizes: [Int], repeats: Int, evictMegabytes: Int, group: Collectives) throws -> AllreduceBenchResult {
        var buffer = [Float](repeating: 0, count: (sizes.max() ?? 4) / 4)  // zeros: sums stay finite
        var scratch = [Float](repeating: 0, count: evictMegabytes * 250_000)
        var rows: [AllreduceBenchResult.Row] = []
        for bytes in sizes {
            let count = bytes / 4
            // Enough calls per sample that one sample lasts ~1 ms even for tiny messages.
            let calls = max(1, min(1000, (1 << 20) / bytes))
            var samples: [Double] = []
            try buffer.withUnsafeMutableBufferPointer { all in
                let message = UnsafeMutableBufferPointer(rebasing: all[0..<count])
                try group.allreduceSum(message)  // warm-up: connections, buffers
                for sample in 0..<repeats {
                    for i in stride(from: 0, to: scratch.count, by: 16) { scratch[i] = Float(sample) }
                    try group.barrier()
                    let t0 = ResourceUsage.now()
                    for _ in 0..<calls { try group.allreduceSum(message) }
                    samples.append((ResourceUsage.now() - t0) / Double(calls))
                }
            }
            keep(scratch.last ?? 0)
            let t = ModelBenchmark.median(try group.allreduceMax(samples))
            rows.append(.init(bytes: bytes, callsPerSample: calls, seconds: t,
                              algorithmBandwidth: Double(bytes) / t,
                              busBandwidth: RingAllreduceCost.busBandwidth(ranks: group.size, bytes: Double(bytes), seconds: t)))
        }
        let fit = RingAllreduceCost.fit(ranks: group.size, bytes: rows.map { Double($0.bytes) }, seconds: rows.map(\.seconds))
        return AllreduceBenchResult(ranks: group.size, repeats: repeats, evictedMegabytes: evictMegabytes, rows: rows,
                                    alphaSeconds: fit?.alpha, betaBytesPerSecond: fit?.beta)
    }

    /// Keeps the optimizer from dropping stores it sees no reader for.
    @inline(never) static func keep(_ value: Float) {}
}
