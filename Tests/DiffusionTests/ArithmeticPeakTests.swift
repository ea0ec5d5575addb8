import Foundation
import Testing
@testable import Diffusion

/// `bench peak`'s loops: each runs exactly where this machine has its instructions, AMX
/// included (asked of Linux at run time; a CPU or kernel without it gets nil, never SIGILL).
@Suite struct ArithmeticPeakTests {
    /// The flags of /proc/cpuinfo's first processor. Linux drops a feature there when it does
    /// not support its state (AMX's tiles need kernel 5.16 or later).
    static let cpuFlags: Set<String> = {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }()

    @Test("the AMX loop runs where /proc/cpuinfo lists amx_tile and amx_bf16, and reports nil elsewhere")
    func amxWhereListed() {
        let listed = Self.cpuFlags.isSuperset(of: ["amx_tile", "amx_bf16"])
        #expect(ArithmeticPeak.Loop.amxbf16.isSupported == listed, "cpuinfo flags: amx \(listed)")
        let gflops = ArithmeticPeak.measure(.amxbf16, threads: 1, seconds: 0.01, repeats: 1)
        if listed { #expect((gflops ?? 0) > 0) } else { #expect(gflops == nil) }
    }

    @Test("the other loops follow the CPU's flags too")
    func vectorLoopsWhereListed() {
        #expect(ArithmeticPeak.Loop.fma256.isSupported == Self.cpuFlags.isSuperset(of: ["avx2", "fma"]))
        #expect(ArithmeticPeak.Loop.fma512.isSupported == Self.cpuFlags.contains("avx512f"))
        #expect(ArithmeticPeak.Loop.dpbf16.isSupported == Self.cpuFlags.isSuperset(of: ["avx512f", "avx512_bf16"]))
    }

    @Test("the engine whose peak a backend's GFLOPS are shared against is the one oneDNN dispatches")
    func engines() {
        #expect(ArithmeticPeak.engine(of: .swift) == .fma256)
        #expect(ArithmeticPeak.engine(of: .oneDNN(.fp32, .winograd)) == (OneDNN.hasAVX512 ? .fma512 : .fma256))
        #expect(ArithmeticPeak.engine(of: .oneDNN(.bf16, .direct)) == (OneDNN.hasAMX ? .amxbf16 : .dpbf16))
        // oneDNN dispatching AMX means our loop can run it too (the same CPU and permission).
        if OneDNN.hasAMX { #expect(ArithmeticPeak.Loop.amxbf16.isSupported) }
    }
}
