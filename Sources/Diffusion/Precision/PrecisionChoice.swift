import Foundation
import Kernels

/// `--precision auto`: bf16 only where the model's own convolutions run faster in it.
///
/// The CPU's flags do not say so. A register loop does not either: an Intel Xeon of family 6
/// model 207 ran `vdpbf16ps` at 0.48x its fp32 FMA rate, yet on a host that exposed AMX
/// oneDNN's bf16 forward was 1.7x its fp32 Winograd one there, and a Zen 4 runs `vdpbf16ps`
/// at 2x (docs/speed.md). So every distinct convolution shape of the model is timed, forward
/// and whole backward, in both precisions through the backends the run would use
/// (`ConvBenchmark.run`), and the totals decide: a train step's for training, the forward's
/// for sampling.
public struct PrecisionChoice: Codable, Sendable, Equatable {
    /// What the model is run for: a train step (forward + backward) or sampling (forward).
    public enum Purpose: String, Codable, Sendable {
        case training, sampling
    }

    /// Seconds of all the model's convolutions (each shape times its count) at `batch`.
    public struct Seconds: Codable, Sendable, Equatable {
        public let forward, backward: Double
        public init(forward: Double, backward: Double) { self.forward = forward; self.backward = backward }
        public func of(_ purpose: Purpose) -> Double { purpose == .training ? forward + backward : forward }
    }

    /// The backends compared ("onednn fp32 winograd", "onednn bf16").
    public let fp32Backend, bf16Backend: String
    /// Both nil when this machine offers no bf16 convolution (`bf16Missing` says why): then
    /// nothing is timed.
    public let fp32, bf16: Seconds?
    public let bf16Missing: String?
    /// The timing's batch and threads.
    public let batch, threads: Int
    /// "2026-12-06 08:20 UTC".
    public let measuredAt: String
    /// What the timing itself cost, in wall seconds.
    public let measuringSeconds: Double

    /// bf16 must be this much faster: below it the difference is within the noise of a shared
    /// machine (5-10% between runs), and bf16 rounds the convolutions' inputs.
    public static let requiredSpeedup = 1.1

    public init(fp32Backend: String, bf16Backend: String, fp32: Seconds?, bf16: Seconds?, bf16Missing: String?,
                batch: Int, threads: Int, measuredAt: String, measuringSeconds: Double) {
        self.fp32Backend = fp32Backend; self.bf16Backend = bf16Backend
        self.fp32 = fp32; self.bf16 = bf16; self.bf16Missing = bf16Missing
        self.batch = batch; self.threads = threads
        self.measuredAt = measuredAt; self.measuringSeconds = measuringSeconds
    }

    /// fp32 seconds over bf16 seconds for `purpose`; nil when bf16 was not timed.
    public func speedup(for purpose: Purpose) -> Double? {
        guard let fp32, let bf16, bf16.of(purpose) > 0 else { return nil }
        return fp32.of(purpose) / bf16.of(purpose)
    }

    public func precision(for purpose: Purpose) -> ConvolutionPrecision {
        (speedup(for: purpose) ?? 0) >= Self.requiredSpeedup ? .bf16 : .fp32
    }

    /// One line: what was picked and why, e.g. "bf16: convolutions of one train step 1.32 s vs
    /// 1.46 s onednn fp32 winograd (x1.11, at least x1.1 pays), batch 32 on 2 threads, measured
    /// 2026-12-06 08:20 UTC".
    public func explanation(for purpose: Purpose) -> String {
        let picked = precision(for: purpose).rawValue
        guard let fp32, let bf16, let speedup = speedup(for: purpose) else {
            return "\(picked): \(bf16Missing ?? "bf16 was not timed")"
        }
        let what = purpose == .training ? "convolutions of one train step" : "convolutions of one forward pass"
        let verdict = String(format: "x%.2f, %@ x%.2f", speedup,
                             (speedup >= Self.requiredSpeedup ? "at least" : "below") as NSString, Self.requiredSpeedup)
        return String(format: "%@: %@ %.3f s %@ vs %.3f s %@ (%@), batch %d on %d thread(s), measured %@",
                      picked as NSString, what as NSString, bf16.of(purpose), bf16Backend as NSString, fp32.of(purpose),
                      fp32Backend as NSString, verdict as NSString, batch, threads, measuredAt as NSString)
    }
}

extension PrecisionChoice {
    /// The timing batch: 16 images a thread, the slice each worker runs in a demo-sized step,
    /// and few enough that timing the seed U-Net's convolutions twice over stays at seconds.
    public static func timingBatch(threads: Int) -> Int { 16 * threads }

    /// Times every distinct convolution shape of `config` on `fp32` and `bf16` (the backends as
    /// `ConvolutionBackend.resolve` gave them) on the current `Parallel` threads: one warm-up
    /// (primitives built), then the best of two timed forwards and backwards each (a shared
    /// machine's load spikes otherwise decide it), the two precisions alternating shape by
    /// shape so that a change in the machine's load hits both alike.
    /// When `bf16` is not bf16 (the machine has none), nothing is timed.
    public static func measure(config: UNetConfig, fp32: ConvolutionBackend, bf16: ConvolutionBackend,
                               bf16Missing: String?, now: Date = Date()) -> PrecisionChoice {
        let threads = Parallel.threads, batch = timingBatch(threads: threads)
        let stamp = Self.stamp(now)
        guard case .oneDNN(.bf16, _) = bf16 else {
            return PrecisionChoice(fp32Backend: fp32.description, bf16Backend: bf16.description, fp32: nil, bf16: nil,
                                   bf16Missing: bf16Missing ?? "no bf16 convolutions here", batch: batch, threads: threads,
                                   measuredAt: stamp, measuringSeconds: 0)
        }
        let start = ResourceUsage.now()
        let rows = ConvBenchmark.run(shapes: ConvBenchmark.distinct(config.convolutions(batch: batch)),
                                     backends: [fp32, bf16], repeats: 2, details: false)
        func total(_ i: Int) -> Seconds {
            Seconds(forward: rows.reduce(0) { $0 + Double($1.count) * $1.timings[i].forward },
                    backward: rows.reduce(0) { $0 + Double($1.count) * $1.timings[i].backward })
        }
        return PrecisionChoice(fp32Backend: fp32.description, bf16Backend: bf16.description, fp32: total(0), bf16: total(1),
                               bf16Missing: nil, batch: batch, threads: threads, measuredAt: stamp,
                               measuringSeconds: ResourceUsage.now() - start)
    }

    static func stamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: date)
    }
}
