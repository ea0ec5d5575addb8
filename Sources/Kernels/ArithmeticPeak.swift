import CPeak
import Foundation

/// This machine's arithmetic peak, measured: every thread runs a register-only
/// multiply-add loop (CPeak) and the operations of all threads are divided by the wall
/// time. The ceiling that `bench model` and `bench conv` report their GFLOPS against.
public enum ArithmeticPeak {
    public enum Loop: String, CaseIterable, Sendable {
        /// 256-bit FMA (AVX2): what our Swift kernels are built for (-target-cpu haswell).
        case fma256 = "fp32 FMA 256-bit"
        /// 512-bit FMA (AVX-512F): oneDNN's fp32 kernels.
        case fma512 = "fp32 FMA 512-bit"
        /// bf16 dot products (AVX512-BF16): oneDNN's bf16 kernels.
        case dpbf16 = "bf16 dot product 512-bit"
        /// bf16 tile products (AMX-BF16 TDPBF16PS): oneDNN's avx512_core_amx kernels. Needs the
        /// CPU to list AMX and Linux to grant this process the tiles (asked on first use).
        case amxbf16 = "bf16 AMX tiles"

        public var isSupported: Bool {
            switch self {
            case .fma256: return peak_has_fma256() != 0
            case .fma512: return peak_has_avx512() != 0
            case .dpbf16: return peak_has_avx512bf16() != 0
            case .amxbf16: return peak_has_amx_bf16() != 0
            }
        }

        func run(_ iterations: Int64) -> Double {
            switch self {
            case .fma256: return peak_fma256(iterations)
            case .fma512: return peak_fma512(iterations)
            case .dpbf16: return peak_dpbf16_512(iterations)
            case .amxbf16: return peak_amx_bf16(iterations)
            }
        }
    }

    /// The loop whose rate bounds the convolutions on `backend`, by the instruction set that
    /// actually runs them: our kernels are built for AVX2 (256-bit FMA); oneDNN fp32 uses
    /// 512-bit FMA where it dispatches AVX-512; oneDNN bf16 uses AMX tiles where its dispatcher
    /// reports avx512_core_amx, else VDPBF16PS.
    public static func engine(of backend: ConvolutionBackend) -> Loop {
        switch backend {
        case .swift: return .fma256
        case .oneDNN(.fp32, _): return OneDNN.hasAVX512 ? .fma512 : .fma256
        case .oneDNN(.bf16, _): return OneDNN.hasAMX ? .amxbf16 : .dpbf16
        }
    }

    /// GFLOPS of `loop` on `threads` threads (each its own loop), best of `repeats` runs
    /// of about `seconds` each; nil when the CPU lacks the instructions.
    public static func measure(_ loop: Loop, threads: Int, seconds: Double = 0.25, repeats: Int = 3) -> Double? {
        guard loop.isSupported else { return nil }
        // Calibrate on one thread: iterations that take about `seconds`.
        var iterations: Int64 = 1 << 16
        while true {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = loop.run(iterations)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if dt > seconds / 4 { iterations = Int64(Double(iterations) * seconds / dt); break }
            iterations *= 4
        }
        var best = 0.0
        for _ in 0..<repeats {
            let flops = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
            defer { flops.deallocate() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            Parallel.withThreads(threads) {
                Parallel.forEach(threads) { i in flops[i] = loop.run(iterations) }
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, flops.reduce(0, +) / dt / 1e9)
        }
        return best
    }
}
