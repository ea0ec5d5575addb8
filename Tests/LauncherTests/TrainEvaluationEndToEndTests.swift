import Diffusion
import Foundation
import Testing

/// `train --eval-every` and `--time-budget` as a user runs them: under mpirun, stopped and
/// resumed, and given bad values.
@Suite(.serialized) struct TrainEvaluationEndToEndTests {
    static let base = ["train", "--preset", "tiny", "--train-subset", "96", "--batch-size", "24",
                       "--samples", "0", "--threads", "1"]
    /// Quick evaluations: 16 images in two DDIM steps.
    static let evaluation = ["--eval-n", "16", "--eval-sampler", "ddim", "--eval-steps", "2"]

    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("train-eval-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func records(_ run: String) throws -> [EvaluationRecord] {
        try String(contentsOfFile: run + "/" + EvaluationLog.fileName, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(EvaluationRecord.self, from: Data($0.utf8)) }
    }

    /// metrics.csv's rows as fields (empty fields kept).
    func metricRows(_ run: String) throws -> [[String]] {
        try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Every 3 steps and at the end, on 2 ranks; stopped at step 4 and resumed to 8, the series
    /// continues where the checkpoint was and the training clock goes on.
    @Test func evaluationsAreWrittenAndTheSeriesSurvivesResume() throws {
        let out = temporaryDirectory() + "/run"
        let first = try MPIRun.launcher(Self.base + Self.evaluation + ["--epochs", "2", "--max-steps", "4", "--eval-every", "3",
                                                                       "--out", out], ranks: 2, timeout: 600)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try records(out).map(\.step) == [3, 4])
        #expect(first.stdout.contains("eval at step 3 (72 images"), "\(first.stdout)")

        let resumed = try MPIRun.launcher(Self.base + Self.evaluation + ["--max-steps", "8", "--eval-every", "3", "--out", out,
                                                                         "--resume"], ranks: 2, timeout: 600)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let series = try records(out)
        #expect(series.map(\.step) == [3, 4, 6, 8])
        #expect(series.allSatisfy { ($0.fid ?? -1) > 0 && ($0.kid ?? -1).isFinite && $0.n == 16 && $0.weights == "ema" })
        #expect(zip(series, series.dropFirst()).allSatisfy { $0.trainSeconds < $1.trainSeconds }, "\(series)")
        for record in series {
            #expect(FileManager.default.fileExists(atPath: out + "/" + (record.grid ?? "none")), "\(record)")
        }
        #expect(FileManager.default.fileExists(atPath: out + "/fid.png"))
        // TensorBoard gets the same scores and grids, across both starts' event files.
        let events = try EventFile.paths(in: out + "/tensorboard").flatMap { try EventFile.read($0) }
        for record in series {
            let logged = events.filter { $0.step == record.step - 1 }
            #expect(logged.compactMap { $0.scalar("eval/fid") }.last == Float(record.fid ?? -1), "\(record.step)")
            #expect(logged.contains { $0.image("eval/samples") != nil }, "\(record.step)")
        }

        let rows = try metricRows(out)
        #expect(rows.count == 8 && rows.allSatisfy { $0.count == 8 })
        // The scores stand on the row of the step after which the run evaluated.
        #expect(rows.indices.filter { !rows[$0][6].isEmpty } == [2, 3, 5, 7])
        let clock = rows.map { Double($0[5]) ?? -1 }
        #expect(zip(clock, clock.dropFirst()).allSatisfy { $0 < $1 }, "\(clock)")
    }

    /// A budget becomes a step count stored with the run, corrected by the re-plans; the run
    /// takes exactly those steps and a resume keeps them. 8 s leaves room for a few steps
    /// under the sanitizers too (`scripts/test --sanitize`, about 1 s a step).
    @Test func timeBudgetFixesTheStepsOnce() throws {
        let out = temporaryDirectory() + "/run"
        let run = try MPIRun.launcher(Self.base + ["--time-budget", "8s", "--out", out], ranks: 2, timeout: 600)
        #expect(run.status == 0, "\(run.stderr)")
        let state = try TrainingCheckpoint.load(from: out + "/" + TrainingCheckpoint.fileName)
        let steps = try #require(state.options.budgetSteps)
        let firstPlan = state.options.budgetPace?.scheduleSteps ?? steps
        #expect(state.options.timeBudget == 8 && state.step == steps)
        #expect(try metricRows(out).count == steps)
        #expect(run.stdout.contains("time budget 8.0s: \(firstPlan) steps at"), "\(run.stdout)")
        #expect(run.stdout.contains("of a 8.0s budget"), "\(run.stdout)")

        let again = try MPIRun.launcher(Self.base + ["--time-budget", "8s", "--out", out, "--resume"], ranks: 1, timeout: 600)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stdout.contains("time budget 8.0s:"), "planned again: \(again.stdout)")
        let resumed = try TrainingCheckpoint.load(from: out + "/" + TrainingCheckpoint.fileName).options
        #expect(resumed.budgetSteps == steps && resumed.budgetPace == state.options.budgetPace)
        let other = try MPIRun.launcher(Self.base + ["--time-budget", "9s", "--out", out, "--resume"], ranks: 1, timeout: 600)
        #expect(other.status != 0 && other.stderr.contains("--time-budget"), "\(other.stderr)")
    }

    static let badValues: [([String], String)] = [
        (["--time-budget", "10"], "expected a duration with units"),
        (["--time-budget", "0s"], "must be more than 0 s"),
        (["--time-budget=-5m"], "expected a duration with units"),
        (["--time-budget", "100000000h"], "at most a year"),
        (["--time-budget", "1m", "--epochs", "2"], "leave out --epochs"),
        (["--eval-every", "0"], "--eval-every must be in 1..."),
        (["--eval-every", "5x"], "--eval-every is '5x'"),
        (["--eval-every", "5", "--eval-n", "1"], "--eval-n"),
        (["--eval-every", "5", "--eval-sampler", "ddim", "--eval-steps", "0"], "steps"),
    ]

    @Test(arguments: badValues)
    func badValuesAreRefusedBeforeAnyWork(arguments: [String], message: String) throws {
        let folder = temporaryDirectory()
        let run = try MPIRun.launcher(Self.base + arguments + ["--out", folder + "/run"], ranks: 1)
        #expect(run.status != 0 && run.status < 128, "\(arguments): exit \(run.status)")
        #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "\(arguments) wrote files")
    }
}
