import Foundation
import Testing
@testable import Diffusion

/// `--model` and `--weights`: a run folder, its model/ or model-ema/, or a lone diffusers folder.
@Suite struct RunWeightsTests {
    func makeRun(ema: Bool) throws -> String {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)").path
        for folder in ["model"] + (ema ? ["model-ema"] : []) {
            try FileManager.default.createDirectory(atPath: run + "/" + folder, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: run + "/" + folder + "/config.json", contents: Data("{}".utf8))
        }
        return run
    }

    @Test("EMA by default when the run has it, raw on request, from the run or either of its folders")
    func runWithEMA() throws {
        let run = try makeRun(ema: true)
        for given in [run, run + "/", run + "/model", run + "/model-ema"] {
            #expect(try RunWeights.resolve(given, weights: .ema) == .init(path: run + "/model-ema", weights: .ema, hasBoth: true), "\(given)")
            #expect(try RunWeights.resolve(given, weights: .raw) == .init(path: run + "/model", weights: .raw, hasBoth: true), "\(given)")
        }
    }

    @Test("a run without EMA, and a folder outside any run, give their raw weights")
    func withoutEMA() throws {
        let run = try makeRun(ema: false)
        #expect(try RunWeights.resolve(run, weights: .ema) == .init(path: run + "/model", weights: .raw, hasBoth: false))
        #expect(try RunWeights.resolve(run + "/model", weights: .ema) == .init(path: run + "/model", weights: .raw, hasBoth: false))
        let lone = run + "/elsewhere"
        try FileManager.default.createDirectory(atPath: lone, withIntermediateDirectories: true)
        #expect(try RunWeights.resolve(lone, weights: .ema) == .init(path: lone, weights: .raw, hasBoth: false))
    }

    @Test("--weights raw on a model-ema/ without model/ beside it names what is missing")
    func rawMissing() throws {
        let run = try makeRun(ema: true)
        try FileManager.default.removeItem(atPath: run + "/model")
        #expect { try RunWeights.resolve(run + "/model-ema", weights: .raw) } throws: { "\($0)".contains(run + "/model") }
    }
}
