/// `--precision auto`: bf16 only where it is faster. AVX512-BF16 alone does not say so: an
/// AMD Zen 4 ran its bf16 dot products (VDPBF16PS) at 2x its fp32 FMA rate, and an Intel Xeon
/// of family 6 model 207 (no AMX) at 0.48x, where bf16 convolutions trained the seed U-Net
/// 0.73x as fast as fp32 (docs/speed.md). So the two rates are measured, each on one thread
/// with the register-only loops of `launcher bench peak` (about 0.1 s in all).
public struct PrecisionChoice: Sendable {
    /// GFLOPS of one thread: fp32 FMAs at the widest width the CPU has, and bf16 dot products
    /// (nil without AVX512-BF16).
    public let fp32, bf16: Double?

    /// bf16 must beat fp32 by this factor: the convolutions are not all arithmetic, and the
    /// two CPUs measured are far on either side of it.
    public static let requiredSpeedup = 1.25

    public static func measure() -> PrecisionChoice {
        let fp32 = ArithmeticPeak.measure(.fma512, threads: 1, seconds: 0.02, repeats: 2)
            ?? ArithmeticPeak.measure(.fma256, threads: 1, seconds: 0.02, repeats: 2)
        let bf16 = OneDNN.isAvailable && OneDNN.hasNativeBF16
            ? ArithmeticPeak.measure(.dpbf16, threads: 1, seconds: 0.02, repeats: 2) : nil
        return PrecisionChoice(fp32: fp32, bf16: bf16)
    }

    public init(fp32: Double?, bf16: Double?) { self.fp32 = fp32; self.bf16 = bf16 }

    /// bf16 dot products per fp32 FMA operation, when both were measured.
    public var ratio: Double? {
        guard let fp32, let bf16, fp32 > 0 else { return nil }
        return bf16 / fp32
    }

    public var precision: ConvolutionPrecision {
        (ratio ?? 0) >= PrecisionChoice.requiredSpeedup ? .bf16 : .fp32
    }

    /// One line for a note: what was picked and why.
    public var explanation: String {
        guard let ratio else { return "fp32 (this CPU has no native bf16 convolutions)" }
        let rate = "bf16 dot products run at \(String(format: "%.2f", ratio))x the fp32 FMA rate here"
        return precision == .bf16 ? "bf16 (\(rate))" : "fp32 (\(rate), below the \(PrecisionChoice.requiredSpeedup)x that pays)"
    }
}
