import Kernels
import Testing

/// `--precision auto`: bf16 only where its measured rate pays.
@Suite struct PrecisionChoiceTests {
    @Test("bf16 where its dot products beat fp32 FMAs by 1.25x, fp32 otherwise")
    func threshold() {
        #expect(PrecisionChoice(fp32: 120, bf16: 240).precision == .bf16)   // a Zen 4 core
        #expect(PrecisionChoice(fp32: 170, bf16: 82).precision == .fp32)    // a Xeon without AMX
        #expect(PrecisionChoice(fp32: 100, bf16: 120).precision == .fp32)
        #expect(PrecisionChoice(fp32: 100, bf16: nil).precision == .fp32)   // no AVX512-BF16
        #expect(PrecisionChoice(fp32: nil, bf16: 100).precision == .fp32)
    }

    @Test("the note says what was picked and the measured ratio")
    func explanation() {
        #expect(PrecisionChoice(fp32: 100, bf16: 200).explanation.hasPrefix("bf16 (bf16 dot products run at 2.00x"))
        #expect(PrecisionChoice(fp32: 100, bf16: 48).explanation.contains("0.48x"))
        #expect(PrecisionChoice(fp32: 100, bf16: nil).explanation.contains("no native bf16"))
    }

    @Test("measured here: an fp32 rate always, a bf16 rate exactly where oneDNN runs bf16")
    func measuredHere() {
        let choice = PrecisionChoice.measure()
        #expect((choice.fp32 ?? 0) > 0)
        #expect((choice.bf16 != nil) == (OneDNN.isAvailable && OneDNN.hasNativeBF16))
    }
}
