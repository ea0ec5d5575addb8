import Diffusion
import Foundation
import Testing

/// `train --resume`: flags that contradict the saved run are errors naming them, and the
/// saved state is checked like any input (options in range, step in the plan, finite numbers).
@Suite(.serialized) struct ResumeValidationTests {
    static let base = TrainEndToEndTests.common

    /// A run folder with a checkpoint after one step.
    static let saved: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)").path
        let run = try? MPIRun.launcher(base + ["--max-steps", "1", "--out", dir], ranks: 1, timeout: 600)
        precondition(run?.status == 0, "the first step failed: \(run?.stderr ?? "")")
        return dir
    }()

    /// A copy of the saved run to spoil.
    func copy() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: Self.saved, toPath: dir)
        return dir
    }

    var statePath: String { Self.saved + "/" + TrainingCheckpoint.fileName }

    @Test(arguments: [
        (["--batch-size", "12"], "--batch-size 12 (saved: 24)"),
        (["--seed", "7"], "--seed 7 (saved: 0)"),
        (["--max-lr", "0.001"], "--max-lr 0.001 (saved: 0.01)"),
        (["--train-subset", "48"], "--train-subset 48 (saved: 96)"),
        (["--epochs", "3"], "--epochs 3 (saved: 2)"),
        (["--ema-decay", "0.9"], "--ema-decay 0.9 (saved: 0.999)"),
        (["--ema-decay", "0"], "--ema-decay none (saved: 0.999)"),
        (["--preset", "small"], "--preset small differs"),
        (["--conditional"], "--conditional 1 (saved: none)"),
    ])
    func conflictingFlagIsAnError(flags: [String], message: String) throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: statePath))
        // The saved run's flags minus the one that changes, so only it conflicts.
        var arguments = ["train", "--out", Self.saved, "--resume", "--max-steps", "2", "--samples", "0", "--threads", "1"]
        arguments += flags
        let run = try MPIRun.launcher(arguments, ranks: 2, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stderr.contains("(rank 0 of 2)") && run.stderr.contains("(rank 1 of 2)"), "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: statePath)) == before, "the state changed")
    }

    /// The same flags as the saved run, and none at all, continue it.
    @Test func matchingOrAbsentFlagsContinue() throws {
        let dir = try copy()
        let same = try MPIRun.launcher(Self.base + ["--max-steps", "2", "--out", dir, "--resume"], ranks: 1, timeout: 600)
        #expect(same.status == 0, "\(same.stderr)")
        let bare = try MPIRun.launcher(["train", "--out", dir, "--resume", "--max-steps", "3", "--samples", "0"], ranks: 1, timeout: 600)
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect(bare.stdout.contains("steps 2..<3"), "\(bare.stdout)")
    }

    /// Rewrites the saved state with `edit` applied to its metadata and tensors.
    func spoiled(_ edit: (inout [String: String], inout Tensor) -> Void) throws -> String {
        let dir = try copy()
        let path = dir + "/" + TrainingCheckpoint.fileName
        let file = try Safetensors(contentsOf: path)
        var metadata = file.metadata
        var parameters = try file.tensor(named: "parameters")
        edit(&metadata, &parameters)
        let ema = file.contains("ema") ? [(name: "ema", tensor: try file.tensor(named: "ema"))] : []
        try Safetensors.write([(name: "parameters", tensor: parameters), (name: "adam.m", tensor: try file.tensor(named: "adam.m")),
                               (name: "adam.v", tensor: try file.tensor(named: "adam.v"))] + ema, metadata: metadata, to: path)
        return dir
    }

    @Test(arguments: [
        ("batch0", "options field 'batchSize' must be in 1..."),
        ("batchNegative", "options field 'batchSize' must be in 1..."),
        ("hugeStep", "step 4611686018427387904 lies outside the run's plan of 8 steps"),
        ("nanParameter", "tensor 'parameters' holds nan at flat index 5 (parameter conv_in.weight)"),
    ])
    func storedStateIsValidated(spoil: String, message: String) throws {
        let dir = try spoiled { metadata, parameters in
            switch spoil {
            case "batch0": metadata["options"] = metadata["options"]!.replacingOccurrences(of: "\"batchSize\":24", with: "\"batchSize\":0")
            case "batchNegative": metadata["options"] = metadata["options"]!.replacingOccurrences(of: "\"batchSize\":24", with: "\"batchSize\":-24")
            case "hugeStep": metadata["step"] = "4611686018427387904"
            default: parameters[5] = .nan
            }
        }
        let run = try MPIRun.launcher(["train", "--out", dir, "--resume", "--samples", "0", "--threads", "1"], ranks: 2, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stderr.contains(TrainingCheckpoint.fileName), "\(run.stderr)")
        #expect(!run.stderr.contains("--max-lr"), "\(run.stderr)")
    }
}
