import CAVX512

/// Which implementation runs a kernel that has two: the Swift loops (8-float AVX2 vectors; the
/// reference, and the path on every x86 server; OpenBLAS for `GEMM.rows`) or C versions with
/// AVX-512 intrinsics
/// (Sources/CAVX512; Swift builds the kernels for one CPU level and cannot choose at run time).
/// Kernels take `.best` unless a test or benchmark names a path.
package enum KernelPath: Sendable {
    case swift, avx512

    /// AVX-512 where the CPU has AVX-512F.
    package static let best: KernelPath = avx512Available ? .avx512 : .swift

    package static var avx512Available: Bool { avx512_available() != 0 }

    /// Stops a caller that names AVX-512 on a CPU without it (a test's or benchmark's bug).
    package func check() {
        precondition(self == .swift || Self.avx512Available, "AVX-512 kernels asked for on a CPU without AVX-512F")
    }
}
