import Foundation

/// What `bench model` reports: images/s of a forward pass and of a train step, their GFLOPS
/// and share of this machine's arithmetic peak, CPU time per image, peak RSS, and with
/// `--profile` where the time goes. Its JSON is `bench model --json` (scripts/bench_pytorch.py
/// reads it).
public struct ModelBenchmarkReport: Codable, Sendable {
    public struct ProfileRow: Codable, Sendable, Equatable {
        public let label: String
        public let milliseconds, cpuMilliseconds: Double
    }

    public let preset: String
    public let parameters, threads: Int
    /// `ConvolutionBackend.description` of what ran the convolutions.
    public let backend: String
    public let forwardBatch, trainBatch, iterations: Int
    /// Median over the timed iterations.
    public let forwardImagesPerSecond, trainImagesPerSecond: Double
    /// Images/s times the preset's FLOPs per image (`ReferenceCost`).
    public let forwardGFLOPS, trainGFLOPS: Double
    /// Register-only loops on every thread (`ArithmeticPeak`), measured just before the run;
    /// nil where the CPU lacks them. fp32: FMA at the widest width; bf16: VDPBF16PS; AMX:
    /// TDPBF16PS tiles.
    public let fp32PeakGFLOPS, bf16PeakGFLOPS, amxPeakGFLOPS: Double?
    /// The loop of the engine that ran the convolutions (`ArithmeticPeak.engine(of:)`,
    /// e.g. "bf16 AMX tiles" when oneDNN dispatched avx512_core_amx), and its GFLOPS: what the
    /// shares of peak are shares of.
    public let engine: String
    public let enginePeakGFLOPS: Double?
    /// Process CPU time per image (median iteration): the work done, whatever else the machine
    /// ran meanwhile.
    public let forwardCPUMillisecondsPerImage, trainCPUMillisecondsPerImage: Double
    public let peakRSSMiB: Double?
    /// With `--profile`: time per kind of work in one pass (empty without).
    public let forwardProfileMilliseconds, trainProfileMilliseconds: [ProfileRow]

    /// The report of a run `result` of `preset` (no measuring here: the peaks and RSS are given).
    public init(preset: ModelPreset, cost: ReferenceCost, parameters: Int, threads: Int, backend: ConvolutionBackend,
                iterations: Int, result r: ModelBenchmark.Result, fp32PeakGFLOPS: Double?, bf16PeakGFLOPS: Double?,
                amxPeakGFLOPS: Double? = nil, engine: ArithmeticPeak.Loop, enginePeakGFLOPS: Double?, peakRSSMiB: Double?) {
        self.preset = preset.rawValue
        self.parameters = parameters
        self.threads = threads
        self.backend = backend.description
        forwardBatch = r.forwardBatch
        trainBatch = r.trainBatch
        self.iterations = iterations
        forwardImagesPerSecond = r.forwardImagesPerSecond
        trainImagesPerSecond = r.trainImagesPerSecond
        forwardGFLOPS = r.forwardImagesPerSecond * cost.forwardGFLOP
        trainGFLOPS = r.trainImagesPerSecond * cost.trainGFLOP
        self.fp32PeakGFLOPS = fp32PeakGFLOPS
        self.bf16PeakGFLOPS = bf16PeakGFLOPS
        self.amxPeakGFLOPS = amxPeakGFLOPS
        self.engine = engine.rawValue
        self.enginePeakGFLOPS = enginePeakGFLOPS
        forwardCPUMillisecondsPerImage = r.forwardCPUMillisecondsPerImage
        trainCPUMillisecondsPerImage = r.trainCPUMillisecondsPerImage
        self.peakRSSMiB = peakRSSMiB
        func rows(_ entries: [StepProfile.Entry]) -> [ProfileRow] {
            entries.map { ProfileRow(label: $0.label, milliseconds: 1000 * $0.seconds, cpuMilliseconds: 1000 * $0.cpuSeconds) }
        }
        forwardProfileMilliseconds = rows(r.forwardProfile)
        trainProfileMilliseconds = rows(r.trainProfile)
    }

    /// `gflops` as a fraction of the peak of the engine that ran the convolutions; nil when
    /// that loop could not run here.
    public func engineShare(_ gflops: Double) -> Double? {
        enginePeakGFLOPS.map { gflops / $0 }
    }

    /// Images/s the work would reach with the threads' cores to itself (from CPU time: on a
    /// shared machine wall time also counts other processes' load).
    public var idleCoreImagesPerSecond: (forward: Double, train: Double) {
        let coreMilliseconds = Double(threads) * 1000
        return (coreMilliseconds / forwardCPUMillisecondsPerImage, coreMilliseconds / trainCPUMillisecondsPerImage)
    }

    /// What `bench model` prints after the run.
    public var summary: String {
        func pass(_ name: String, _ batch: Int, _ imagesPerSecond: Double, _ gflops: Double) -> String {
            String(format: "%@ batch %4d: %7.1f img/s  %6.1f GFLOPS  ", name as NSString, batch, imagesPerSecond, gflops)
                + (engineShare(gflops).map { String(format: "%4.0f%% of the %@ peak", 100 * $0, engine as NSString) } ?? "")
        }
        // No ratio to PyTorch here: a ratio means something only when both run on the same
        // machine in the same run (scripts/bench-pytorch does that).
        var lines = [pass("forward ", forwardBatch, forwardImagesPerSecond, forwardGFLOPS),
                     pass("train   ", trainBatch, trainImagesPerSecond, trainGFLOPS),
                     "peak measured just before: "
                        + [fp32PeakGFLOPS.map { String(format: "fp32 %.0f GFLOPS", $0) },
                           bf16PeakGFLOPS.map { String(format: "bf16 %.0f GFLOPS", $0) },
                           amxPeakGFLOPS.map { String(format: "AMX %.0f GFLOPS", $0) }].compactMap { $0 }.joined(separator: ", ")
                        + " (launcher bench peak); convolutions ran on \(engine)"]
        let idle = idleCoreImagesPerSecond
        lines.append(String(format: "CPU time per image: forward %.2f ms, train %.2f ms -> %.1f / %.1f img/s on %d idle cores",
                            forwardCPUMillisecondsPerImage, trainCPUMillisecondsPerImage, idle.forward, idle.train, threads))
        if let peakRSSMiB { lines.append(String(format: "peak RSS: %.0f MiB", peakRSSMiB)) }
        if !forwardProfileMilliseconds.isEmpty || !trainProfileMilliseconds.isEmpty {
            lines += Self.profileLines("forward, batch \(forwardBatch)", forwardProfileMilliseconds)
            lines += Self.profileLines("train step, batch \(trainBatch)", trainProfileMilliseconds)
        }
        return lines.joined(separator: "\n")
    }

    /// Wall time per label, its share, and the cores it kept busy (CPU time / wall time; the
    /// thread count when the work is spread perfectly, 1 when it runs serially).
    static func profileLines(_ title: String, _ rows: [ProfileRow]) -> [String] {
        let total = rows.reduce(0) { $0 + $1.milliseconds }, cpu = rows.reduce(0) { $0 + $1.cpuMilliseconds }
        return ["\(title): \(String(format: "%.3f s, %.2f cores busy", total / 1000, cpu / max(total, 1e-6)))"]
            + rows.sorted(by: { $0.milliseconds > $1.milliseconds }).map { row in
                "  " + row.label.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: " %8.1f ms  %5.1f%%  %4.2f cores", row.milliseconds, 100 * row.milliseconds / total,
                             row.cpuMilliseconds / max(row.milliseconds, 1e-6))
            }
    }
}

extension ModelBenchmarkReport {
    /// `preset`'s FLOPs per image; an error naming `--preset` for a preset without a count.
    public static func cost(of preset: ModelPreset) throws -> ReferenceCost {
        guard let cost = preset.referenceCost else {
            throw OptionError("--preset", "\(preset.rawValue): no FLOP count; expected "
                              + ModelPreset.measured.map(\.rawValue).joined(separator: " or "))
        }
        return cost
    }

    /// Builds `preset`'s U-Net on `convolutions`, measures this machine's peaks (a share of a
    /// peak from another day would mean nothing), then times it (`ModelBenchmark.run`).
    /// `log` gets a first line saying what runs, then, with `verbose`, every iteration.
    public static func measure(preset: ModelPreset, convolutions: ConvolutionBackend, threads: Int, forwardBatch: Int,
                               trainBatch: Int, iterations: Int, profile: Bool, verbose: Bool = false, lowMemory: Bool = false,
                               log: (String) -> Void) throws -> ModelBenchmarkReport {
        let cost = try self.cost(of: preset)
        let model = try benchmarkModel(preset: preset, convolutions: convolutions)
        model.context.recomputesAttentionProjections = lowMemory
        let backend = model.context.convolutions
        log("preset \(preset.rawValue): \(model.store.count) parameters, \(threads) threads, convolutions \(backend)"
            + (lowMemory && model.context.bf16Activations ? ", low memory (attention's q|k|v recomputed)" : ""))
        let peaks = PeakReport.Peaks(threads: threads)
        let engine = ArithmeticPeak.engine(of: backend)
        let result = try ModelBenchmark.run(model: model, forwardBatch: forwardBatch, trainBatch: trainBatch, iterations: iterations,
                                            profile: profile, log: { if verbose { log($0) } })
        return ModelBenchmarkReport(preset: preset, cost: cost, parameters: model.store.count, threads: threads, backend: backend,
                                    iterations: iterations, result: result, fp32PeakGFLOPS: peaks.fp32,
                                    bf16PeakGFLOPS: peaks[.dpbf16], amxPeakGFLOPS: peaks[.amxbf16], engine: engine,
                                    enginePeakGFLOPS: peaks[engine], peakRSSMiB: ResourceUsage.peakRSSMiB())
    }
}
