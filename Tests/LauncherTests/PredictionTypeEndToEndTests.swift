import Diffusion
import Foundation
import Testing

/// `train --prediction-type v_prediction --snr-gamma 5`: the same parameters at 1 and 2 ranks,
/// the options and the scheduler config stored with the run, and `sample` reading them back.
@Suite(.serialized) struct PredictionTypeEndToEndTests {
    static let flags = TrainEndToEndTests.common + ["--prediction-type", "v_prediction", "--snr-gamma", "5", "--max-steps", "3"]

    @Test func vPredictionWithMinSNRAtOneAndTwoRanks() throws {
        let helper = TrainEndToEndTests()
        let base = helper.temporaryDirectory()
        var results: [[Float]] = []
        for ranks in 1...2 {
            let out = base + "/np\(ranks)"
            let run = try MPIRun.launcher(Self.flags + ["--out", out], ranks: ranks, timeout: 600)
            #expect(run.status == 0, "np=\(ranks): \(run.stderr)")
            results.append(try helper.parameters(out))
        }
        var num = 0.0, den = 0.0
        for (a, b) in zip(results[0], results[1]) { num += Double(a - b) * Double(a - b); den += Double(a) * Double(a) }
        let relative = (num / den).squareRoot()
        print("v_prediction, snr-gamma 5: np=2 vs np=1 relative parameter difference \(relative)")
        #expect(relative < 1e-5 && !results[0].isEmpty)

        let options = try #require(try Safetensors(contentsOf: base + "/np1/training_state.safetensors").metadata["options"])
        #expect(options.contains("\"predictionType\":\"v_prediction\"") && options.contains("\"snrGamma\":5"), "\(options)")
        let config = try String(contentsOfFile: base + "/np1/scheduler/scheduler_config.json", encoding: .utf8)
        #expect(config.contains("\"prediction_type\": \"v_prediction\""))
        #expect(try DiffusersFolder.load(from: base + "/np1/model-ema").predictionType == .vPrediction)

        // --resume without the flags continues as v_prediction; a different --prediction-type is refused.
        let resumed = try MPIRun.launcher(TrainEndToEndTests.common + ["--max-steps", "4", "--out", base + "/np1", "--resume"],
                                          ranks: 1, timeout: 600)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try String(contentsOfFile: base + "/np1/scheduler/scheduler_config.json", encoding: .utf8)
            .contains("\"prediction_type\": \"v_prediction\""))
        let conflict = try MPIRun.launcher(TrainEndToEndTests.common + ["--prediction-type", "sample", "--max-steps", "5",
                                                                       "--out", base + "/np1", "--resume"], ranks: 1, timeout: 600)
        #expect(conflict.status != 0 && conflict.stderr.contains("--prediction-type"), "\(conflict.stderr)")
    }
}
