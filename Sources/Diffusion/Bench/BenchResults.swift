import Foundation

/// What `bench train`, `bench sample` and `bench allreduce` measure, as their JSON files hold
/// it (`bench scaling-report` reads them back).

public struct TrainBenchResult: Codable, Sendable {
    public let preset: String, ranks: Int, threadsPerRank: Int, globalBatch: Int
    public let stepSeconds: Double, imagesPerSecond: Double, allreduceSeconds: Double, allreduceShare: Double
    /// Time at the barrier before the allreduce: waiting for the slowest rank.
    public let imbalanceWaitSeconds: Double
    public let gradientMegabytes: Double
    /// Buckets overlapped with backward (false: all summed after it), and floats per bucket;
    /// nil in files from before these were recorded (not overlapped, 4Mi floats).
    public let overlap: Bool?, bucketFloats: Int?

    public init(preset: String, ranks: Int, threadsPerRank: Int, globalBatch: Int, stepSeconds: Double, imagesPerSecond: Double,
                allreduceSeconds: Double, allreduceShare: Double, imbalanceWaitSeconds: Double, gradientMegabytes: Double,
                overlap: Bool?, bucketFloats: Int?) {
        self.preset = preset; self.ranks = ranks; self.threadsPerRank = threadsPerRank; self.globalBatch = globalBatch
        self.stepSeconds = stepSeconds; self.imagesPerSecond = imagesPerSecond; self.allreduceSeconds = allreduceSeconds
        self.allreduceShare = allreduceShare; self.imbalanceWaitSeconds = imbalanceWaitSeconds
        self.gradientMegabytes = gradientMegabytes; self.overlap = overlap; self.bucketFloats = bucketFloats
    }
}

public struct SampleBenchResult: Codable, Sendable {
    public let preset: String, ranks: Int, threadsPerRank: Int, images: Int, modelEvaluations: Int
    public let seconds: Double, evaluationsPerSecond: Double, imagesPerSecond: Double, forwardImagesPerSecond: Double

    public init(preset: String, ranks: Int, threadsPerRank: Int, images: Int, modelEvaluations: Int, seconds: Double,
                evaluationsPerSecond: Double, imagesPerSecond: Double, forwardImagesPerSecond: Double) {
        self.preset = preset; self.ranks = ranks; self.threadsPerRank = threadsPerRank; self.images = images
        self.modelEvaluations = modelEvaluations; self.seconds = seconds; self.evaluationsPerSecond = evaluationsPerSecond
        self.imagesPerSecond = imagesPerSecond; self.forwardImagesPerSecond = forwardImagesPerSecond
    }
}

public struct AllreduceBenchResult: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public let bytes: Int, callsPerSample: Int
        /// Median over samples of the slowest rank's time per call.
        public let seconds: Double
        /// bytes / seconds.
        public let algorithmBandwidth: Double
        /// 2(p-1)/p · bytes / seconds: what each link carried.
        public let busBandwidth: Double

        public init(bytes: Int, callsPerSample: Int, seconds: Double, algorithmBandwidth: Double, busBandwidth: Double) {
            self.bytes = bytes; self.callsPerSample = callsPerSample; self.seconds = seconds
            self.algorithmBandwidth = algorithmBandwidth; self.busBandwidth = busBandwidth
        }
    }
    public let ranks: Int, repeats: Int
    /// Runs combined by `bench scaling-report` (each size's fastest median); nil for one run.
    public var runs: Int? = nil
    /// Scratch memory written before each sample (0: caches warm from the previous call).
    public let evictedMegabytes: Int?
    public let rows: [Row]
    /// The ring model's α and β (nil with one rank or a single size).
    public let alphaSeconds: Double?, betaBytesPerSecond: Double?

    public init(ranks: Int, repeats: Int, runs: Int? = nil, evictedMegabytes: Int?, rows: [Row],
                alphaSeconds: Double?, betaBytesPerSecond: Double?) {
        self.ranks = ranks; self.repeats = repeats; self.runs = runs; self.evictedMegabytes = evictedMegabytes
        self.rows = rows; self.alphaSeconds = alphaSeconds; self.betaBytesPerSecond = betaBytesPerSecond
    }

    /// The ring model fitted to the rows (not the stored fields: files of older fits read alike).
    public var cost: RingAllreduceCost? {
        RingAllreduceCost.fit(ranks: ranks, bytes: rows.map { Double($0.bytes) }, seconds: rows.map(\.seconds))
    }

    public func formatted() -> String {
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

public func padLeft(_ s: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - s.count)) + s
}

/// "12.3 us", "4.56 ms", "1.23 s".
public func formatSeconds(_ s: Double) -> String {
    switch s {
    case ..<1e-3: return String(format: "%.1f us", s * 1e6)
    case ..<1: return String(format: "%.2f ms", s * 1e3)
    default: return String(format: "%.2f s", s)
    }
}
