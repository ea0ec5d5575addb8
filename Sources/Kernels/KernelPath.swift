import CPeak
import Foundation

/// Which implementation runs a kernel that has two: the Swift loops (8-float AVX2 vectors; the
/// reference, and the path on every x86 server; OpenBLAS for `GEMM.rows`) or C versions with
/// AVX-512 intrinsics
/// (Sources/CAVX512; Swift builds the kernels for one CPU level and cannot choose at run time).
/// Kernels take `.best` unless a test or benchmark names a path.
public enum KernelPath: Sendable {
    case swift, avx512

    /// AVX-512 where the CPU has AVX-512F, unless DIFFUSION_AVX512=0 asks for the Swift
    /// kernels everywhere (to compare the two, or to rule the C kernels out).
    package static let best: KernelPath = avx512Available && !disabledByEnvironment ? .avx512 : .swift

    /// Read once: the kernels ask for every image and every product.
    package static let avx512Available = peak_has_avx512() != 0

    /// AVX512-BF16 (vdpbf16ps), for the bf16 attention kernels; read once.
    package static let avx512BF16Available = peak_has_avx512bf16() != 0

    /// The paths this CPU can run, for benchmarks that time each.
    package static var runnable: [KernelPath] { avx512Available ? [.swift, .avx512] : [.swift] }

    public static let environmentVariable = "DIFFUSION_AVX512"

    /// The variable's value is "0" (Swift kernels), "1" or unset (AVX-512 where the CPU has
    /// it); nil for anything else. The launcher refuses other values at start.
    public static func environmentAllowsAVX512(_ value: String?) -> Bool? {
        switch value {
        case nil, "1": return true
        case "0": return false
        default: return nil
        }
    }

    /// For `launcher info`: which path runs attention, group norm and the linears.
    public static var description: String {
        switch (best, avx512Available) {
        case (.avx512, _):
            return "AVX-512 (attention, group norm, linears)"
                + (avx512BF16Available ? "; attention of bf16 runs on AVX512-BF16" : "")
        case (.swift, true): return "Swift/AVX2 (\(environmentVariable)=0; the CPU has AVX-512)"
        case (.swift, false): return "Swift/AVX2 (the CPU has no AVX-512F)"
        }
    }

    private static var disabledByEnvironment: Bool {
        environmentAllowsAVX512(getenv(environmentVariable).map { String(cString: $0) }) == false
    }

    /// True when a kernel should take its AVX-512 version: this path is AVX-512 and the shape
    /// `fits` that version's constraints (else the Swift loops run). Stops a caller that names
    /// AVX-512 on a CPU without it (a test's or benchmark's bug). An explicit fatalError:
    /// this target is built -Ounchecked, which removes `precondition`s, and the C kernels would
    /// then die of an illegal instruction far from the caller's mistake.
    package func runsAVX512(when fits: Bool) -> Bool {
        if self == .avx512 && !Self.avx512Available {
            fatalError("AVX-512 kernels asked for on a CPU without AVX-512F")
        }
        return self == .avx512 && fits
    }
}
