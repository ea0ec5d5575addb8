import Foundation
import Testing
@testable import Diffusion

/// oneDNN's lower paths, checked on whatever machine runs the tests: OneDNNConvolutionTests
/// again in a child process of this test binary with oneDNN held to AVX2, AVX512_CORE and
/// AVX512_CORE_BF16, each where the machine reaches it (`ONEDNN_MAX_CPU_ISA`, read once when
/// oneDNN first dispatches, hence a process of its own).
/// The child asserts that oneDNN reports the limited ISA (`dispatchesTheLimitedISA`), then
/// holds fp32 (direct and Winograd) to the fp32 bounds and bf16 to its rounding bound, or,
/// where oneDNN has no bf16 convolution (avx2), to the fallback onto our kernels.
@Suite struct OneDNNISALimitTests {
    /// The ISA a child run must see oneDNN dispatch; nil in the parent.
    static var expectedISA: String? { ProcessInfo.processInfo.environment["EXPECT_ONEDNN_ISA"] }

    /// oneDNN's ISAs from low to high, as `OneDNN.isaName` spells them; a limit at or below
    /// this machine's own ISA can be tested here.
    static let order = ["sse41", "avx", "avx2", "avx2_vnni", "avx512_core", "avx512_core_vnni", "avx512_core_bf16", "avx512_core_amx"]

    static func reaches(_ isa: String) -> Bool {
        guard expectedISA == nil, OneDNN.isAvailable, let mine = order.firstIndex(of: OneDNN.isaName),
              let wanted = order.firstIndex(of: isa) else { return false }
        return mine >= wanted
    }

    /// Runs OneDNNConvolutionTests in this test binary with oneDNN's ISA limited to `limit`;
    /// its exit status and output.
    static func runSuite(limitedTo limit: String) throws -> (status: Int32, output: String) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "OneDNNConvolutionTests"]
        var environment = ProcessInfo.processInfo.environment
        environment["ONEDNN_MAX_CPU_ISA"] = limit
        environment["EXPECT_ONEDNN_ISA"] = limit.lowercased()
        child.environment = environment
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardError = pipe
        try child.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return (child.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Whether test `name` of the child's output passed (every report line on it says so).
    static func passed(_ name: String, _ output: String) -> Bool {
        let lines = output.split(separator: "\n").filter { $0.contains("Test \(name)(") }
        return lines.contains { $0.contains("passed") } && !lines.contains { $0.contains("failed") }
    }

    /// Runs the suite at `limit` and checks that it passed, with the tests of `ran` among the
    /// passed ones and those of `notRun` not (skipped: the path does not exist at that ISA).
    static func check(limit: String, ran: [String], notRun: [String]) throws {
        let (status, output) = try runSuite(limitedTo: limit)
        #expect(status == 0, "\(output.suffix(4000))")
        for name in ["dispatchesTheLimitedISA", "fp32MatchesSwiftKernels"] + ran {
            #expect(passed(name, output), "\(name) did not pass at \(limit): \(output.suffix(4000))")
        }
        for name in notRun { #expect(!passed(name, output), "\(name) ran at \(limit)") }
    }

    /// No bf16 convolution and no Winograd at avx2: the fallback onto our kernels is checked.
    @Test(.enabled(if: reaches("avx2"), "oneDNN does not reach avx2 here"))
    func avx2() throws {
        try Self.check(limit: "AVX2", ran: ["unbuildablePrimitiveFallsBackToSwift"],
                       notRun: ["bf16WithinItsRoundingOfFP32", "winogradWithinItsRoundingOfDirect"])
    }

    /// Winograd, and bf16 with VDPBF16PS emulated (jit_bf16:avx512_core), held to the same bounds.
    @Test(.enabled(if: reaches("avx512_core"), "oneDNN does not reach avx512_core here"))
    func avx512Core() throws {
        try Self.check(limit: "AVX512_CORE",
                       ran: ["winogradWithinItsRoundingOfDirect", "winogradInPiecesMatchesDirect", "bf16WithinItsRoundingOfFP32"],
                       notRun: ["unbuildablePrimitiveFallsBackToSwift"])
    }

    /// Native bf16 without AMX: on an AMX machine, the path a Zen 4 or a Xeon without AMX runs.
    @Test(.enabled(if: reaches("avx512_core_bf16"), "oneDNN does not reach avx512_core_bf16 here"))
    func avx512CoreBF16() throws {
        try Self.check(limit: "AVX512_CORE_BF16",
                       ran: ["winogradWithinItsRoundingOfDirect", "bf16WithinItsRoundingOfFP32"],
                       notRun: ["unbuildablePrimitiveFallsBackToSwift"])
    }
}
