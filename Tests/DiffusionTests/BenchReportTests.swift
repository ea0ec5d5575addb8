import Foundation
import Testing
@testable import Diffusion

/// `bench model` and `bench conv` reports: their figures from given timings (no measuring),
/// their printout, and their JSON.
@Suite struct BenchReportTests {
    /// Two timed iterations of each pass: medians 2 s (forward, batch 100) and 4 s (train,
    /// batch 20), CPU 3 s and 6 s.
    func modelResult() -> ModelBenchmark.Result {
        var r = ModelBenchmark.Result()
        r.forwardBatch = 100; r.trainBatch = 20
        r.forwardSeconds = [2, 2.5]; r.trainSeconds = [4, 5]
        r.forwardCPUSeconds = [3, 3]; r.trainCPUSeconds = [6, 6]
        r.trainProfile = [.init(label: "conv", seconds: 3, cpuSeconds: 5), .init(label: "other", seconds: 1, cpuSeconds: 1)]
        return r
    }

    func modelReport(fp32Peak: Double? = 200, bf16Peak: Double? = nil, amxPeak: Double? = nil,
                     engine: ArithmeticPeak.Loop = .fma512) -> ModelBenchmarkReport {
        let enginePeak = engine == .amxbf16 ? amxPeak : engine == .dpbf16 ? bf16Peak : fp32Peak
        return ModelBenchmarkReport(preset: .small, cost: ReferenceCost(forwardGFLOP: 0.5, trainGFLOP: 1.5), parameters: 1000,
                                    threads: 2, backend: .oneDNN(.fp32, .winograd), iterations: 2, result: modelResult(),
                                    fp32PeakGFLOPS: fp32Peak, bf16PeakGFLOPS: bf16Peak, amxPeakGFLOPS: amxPeak, engine: engine,
                                    enginePeakGFLOPS: enginePeak, peakRSSMiB: 300)
    }

    @Test func modelGFLOPSAndPeakShareComeFromTheTimings() throws {
        // The upper median counts (the sorted middle of two is the second).
        let r = modelReport(fp32Peak: 100, bf16Peak: 400)
        #expect(r.forwardImagesPerSecond == 100 / 2.5 && r.trainImagesPerSecond == 20 / 5.0)
        #expect(abs(r.forwardGFLOPS - 40 * 0.5) < 1e-12 && abs(r.trainGFLOPS - 4 * 1.5) < 1e-12)
        #expect(abs(r.engineShare(r.forwardGFLOPS)! - 0.2) < 1e-12)
        // A share of the engine that ran: bf16 on AMX is measured against the AMX loop.
        let amx = modelReport(fp32Peak: 100, bf16Peak: 400, amxPeak: 2000, engine: .amxbf16)
        #expect(abs(amx.engineShare(amx.forwardGFLOPS)! - 0.01) < 1e-12)
        #expect(amx.summary.contains("1% of the bf16 AMX tiles peak"))
        #expect(amx.summary.contains("AMX 2000 GFLOPS (launcher bench peak); convolutions ran on bf16 AMX tiles"))
        #expect(modelReport(amxPeak: nil, engine: .amxbf16).engineShare(10) == nil)
        // CPU milliseconds per image, and the rate they give on 2 idle cores.
        #expect(r.forwardCPUMillisecondsPerImage == 30 && r.trainCPUMillisecondsPerImage == 300)
        #expect(abs(r.idleCoreImagesPerSecond.forward - 2000.0 / 30) < 1e-9)
        #expect(r.backend == "onednn fp32 winograd" && r.preset == "small")
        #expect(r.trainProfileMilliseconds == [.init(label: "conv", milliseconds: 3000, cpuMilliseconds: 5000),
                                               .init(label: "other", milliseconds: 1000, cpuMilliseconds: 1000)])
    }

    @Test func modelSummaryNamesOnlyTheMeasuredPeaks() {
        let lines = modelReport().summary.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("forward  batch  100:    40.0 img/s    20.0 GFLOPS    10% of the fp32 FMA 512-bit peak"))
        #expect(!lines[0].contains("bf16"))
        #expect(lines[2] == "peak measured just before: fp32 200 GFLOPS (launcher bench peak); convolutions ran on fp32 FMA 512-bit")
        #expect(lines.contains("peak RSS: 300 MiB"))
        // The profile: total wall time, cores busy (CPU / wall), and each label's share.
        #expect(lines.contains("train step, batch 20: 4.000 s, 1.50 cores busy"))
        #expect(lines.contains { $0.hasPrefix("  conv") && $0.contains("3000.0 ms   75.0%  1.67 cores") })
    }

    @Test func modelJSONKeepsTheFieldsScriptsRead() throws {
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(modelReport())) as? [String: Any]
        for key in ["preset", "parameters", "threads", "backend", "forwardBatch", "trainBatch", "iterations",
                    "forwardImagesPerSecond", "trainImagesPerSecond", "forwardGFLOPS", "trainGFLOPS", "fp32PeakGFLOPS",
                    "engine", "enginePeakGFLOPS",
                    "peakRSSMiB", "forwardProfileMilliseconds", "trainProfileMilliseconds"] {
            #expect(object?[key] != nil, "no \(key)")
        }
        #expect(object?["trainGFLOPS"] as? Double == 6)
    }

    /// One 3x3 shape counted twice, timed on our kernels and on a oneDNN that fell back.
    func convRows() -> [ConvBenchmark.Row] {
        let g = ConvGeometry(n: 2, h: 8, w: 8, cin: 4, cout: 8, k: 3, stride: 1, pad: 1)
        var swift = ConvBenchmark.Timing(), onednn = ConvBenchmark.Timing()
        swift.forward = 1e-3; swift.weightGradient = 2e-3; swift.backward = 4e-3
        onednn.forward = 5e-4; onednn.weightGradient = 1e-3; onednn.backward = 1.5e-3; onednn.ranOn = .swift
        return [ConvBenchmark.Row(geometry: g, count: 2, timings: [swift, onednn])]
    }

    func convReport() -> ConvBenchmarkReport {
        ConvBenchmarkReport(preset: .small, batch: 2, threads: 1, repeats: 3, clock: "thread CPU time", oneDNN: "oneDNN x",
                            notes: ["no bf16"], backends: [.swift, .oneDNN(.fp32, .direct)], rows: convRows())
    }

    @Test func convGFLOPSAndStepTotalsComeFromTheTimings() throws {
        let report = convReport()
        // 2 FLOPs per multiply-add: 2 images x 64 pixels x 8 outputs x 36 taps.
        let flop = 2.0 * 2 * 64 * 8 * 36
        let shape = try #require(report.shapes.first)
        #expect(shape.flop == flop && shape.count == 2)
        let swift = shape.cells[0], onednn = shape.cells[1]
        #expect(abs(swift.forwardGFLOPS - flop / 1e-3 * 1e-9) < 1e-9)
        #expect(abs(swift.weightGradientGFLOPS - flop / 2e-3 * 1e-9) < 1e-9)
        // The whole backward does twice the forward's work.
        #expect(abs(swift.backwardGFLOPS - 2 * flop / 4e-3 * 1e-9) < 1e-9)
        #expect(swift.weightReorderMilliseconds == nil)
        // One train step: each shape's forward and backward times its count; 3x its FLOPs.
        #expect(abs(report.stepTotals[0].seconds - 2 * 5e-3) < 1e-12)
        #expect(abs(report.stepTotals[1].seconds - 2 * 2e-3) < 1e-12)
        #expect(abs(report.stepTotals[1].gflops - 2 * 3 * flop / 4e-3 * 1e-9) < 1e-9)
        #expect(abs(report.stepTotals[1].speedupOverSwift - 2.5) < 1e-12)
        #expect(onednn.backend == "onednn fp32" && onednn.ranOn == "swift")
    }

    @Test func convStepTotalIsAShareOfItsEnginesPeak() {
        let report = ConvBenchmarkReport(preset: .small, batch: 2, threads: 1, repeats: 3, clock: "thread CPU time",
                                         oneDNN: "oneDNN x", notes: [], backends: [.swift, .oneDNN(.fp32, .direct)],
                                         rows: convRows(), peaks: [.fma256: 0.1])
        // Our kernels run 256-bit FMAs whatever the CPU has.
        let swift = report.stepTotals[0]
        #expect(swift.engine == "fp32 FMA 256-bit")
        #expect(abs(swift.enginePeakShare! - swift.gflops / 0.1) < 1e-12)
        #expect(report.totalLines[0].hasSuffix(String(format: "; %.0f%% of the fp32 FMA 256-bit peak)", 100 * swift.gflops / 0.1)))
        // Without a measured peak no share is claimed.
        #expect(convReport().stepTotals.allSatisfy { $0.enginePeakShare == nil })
    }

    @Test func convPrintoutLinesUpAndNotesFallbacks() {
        let report = convReport()
        #expect(report.headerLines.first == "note: no bf16")
        // The column heads' separators sit over the shape lines' ones.
        let head = report.headerLines.last ?? "", line = report.shapes[0].line
        func bars(_ s: String) -> [Int] { s.enumerated().filter { $0.element == "|" }.map(\.offset) }
        #expect(bars(head) == bars(line), "\(head)\n\(line)")
        #expect(line.hasPrefix(" 2x  8   4->  8 3 1 | "))
        #expect(report.totalLines.contains("onednn fp32: all convolutions of one train step 0.004 s, 0.1 GFLOPS (x2.50 vs swift)"))
        #expect(report.totalLines.last == "note: onednn fp32 fell back to the Swift kernels for n 2, 8x8, 4->8, k 3, stride 1")
    }

    @Test func peakSummaryGivesEachLoopPerThreadOrSaysItIsMissing() {
        let report = PeakReport(threads: 4, rows: [.init(loop: "fp32 FMA 256-bit", gflops: 100), .init(loop: "bf16", gflops: nil)])
        #expect(report.summary.split(separator: "\n").map(String.init) == [
            "arithmetic peak, 4 threads:",
            "  fp32 FMA 256-bit             100.0 GFLOPS (25.0 a thread)",
            "  bf16                        not on this CPU",
        ])
    }
}
