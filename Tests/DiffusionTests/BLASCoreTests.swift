import Kernels
import Testing

/// Which OpenBLAS kernels the launcher asks for instead of OpenBLAS's own choice.
@Suite struct BLASCoreTests {
    @Test("OpenBLAS's SSE3 fallback is replaced by what the CPU's vectors allow")
    func fallbackReplaced() {
        #expect(BLAS.preferredCoreType(detected: "Prescott", hasAVX2: true, hasAVX512: true) == "SkylakeX")
        #expect(BLAS.preferredCoreType(detected: "Prescott", hasAVX2: true, hasAVX512: false) == "Haswell")
        // A real Prescott-class CPU keeps OpenBLAS's kernels.
        #expect(BLAS.preferredCoreType(detected: "Prescott", hasAVX2: false, hasAVX512: false) == nil)
    }

    @Test("a core OpenBLAS recognised is left alone")
    func recognisedCoreKept() {
        for core in ["Haswell", "SkylakeX", "Cooperlake", "Zen", "Sandybridge"] {
            #expect(BLAS.preferredCoreType(detected: core, hasAVX2: true, hasAVX512: true) == nil, "\(core)")
        }
    }
}
