import Foundation
import Testing
@testable import Diffusion

/// `--time-budget` and `--eval-every`: parsing, the plan fixed before the first step, and the
/// logs a run keeps of its evaluations.
struct TrainingBudgetTests {
    @Test(arguments: [("90s", 90.0), ("10m", 600), ("1.5h", 5400), ("1h30m", 5400), ("2m30s", 150), (" 45S ", 45)])
    func durationsParse(text: String, seconds: Double) throws {
        #expect(try WallDuration(parsing: text, name: "--time-budget").seconds == seconds)
    }

    @Test(arguments: ["10", "", "m", "0m", "-5m", "1e9h", "10x", "1.2.3m", "10m5", "100000000h"])
    func badDurationsNameTheFlagAndTheValue(text: String) {
        #expect {
            try WallDuration(parsing: text, name: "--time-budget")
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("--time-budget is '\(text)'") && (message.contains("90s, 10m") || message.contains("at most a year"))
        }
    }

    @Test func cadenceIsStepsOrTime() throws {
        #expect(try EvaluationCadence(parsing: "500", name: "--eval-every") == .steps(500))
        #expect(try EvaluationCadence(parsing: "2m", name: "--eval-every") == .seconds(120))
        #expect(throws: OptionError.self) { try EvaluationCadence(parsing: "0", name: "--eval-every") }
        #expect { try EvaluationCadence(parsing: "", name: "--eval-every") } throws: { "\($0)".contains("expected a duration") }
        #expect(throws: OptionError.self) { try EvaluationCadence(parsing: "99999999999999999999999", name: "--eval-every") }
    }

    @Test func timeCadenceFallsDueOncePerInterval() {
        let evaluation = TrainingEvaluation(settings: .init(cadence: .seconds(60), spec: .ddpm(skip: .recipe)), trainSeconds: 30)
        #expect(!evaluation.isDue(stepsTaken: 1, trainSeconds: 59.9))
        #expect(evaluation.isDue(stepsTaken: 2, trainSeconds: 61))
        evaluation.markDone(trainSeconds: 61)
        #expect(!evaluation.isDue(stepsTaken: 3, trainSeconds: 119))
        #expect(evaluation.isDue(stepsTaken: 4, trainSeconds: 120))
    }

    /// The probe's steps are undone: after planning, the trainer trains exactly as one that
    /// was given the same step count from the start.
    @Test func planLeavesNoTraceOfItsProbe() throws {
        let budgeted = try TinyTraining.trainer { $0.timeBudget = 3600; $0.emaDecay = 0.99 }
        let before = Array(UnsafeBufferPointer(start: budgeted.model.store.values, count: budgeted.model.store.count))
        let plan = try TimeBudget.plan(budgeted, budgetSeconds: 3600)
        #expect(budgeted.step == 0)
        #expect(Array(UnsafeBufferPointer(start: budgeted.model.store.values, count: budgeted.model.store.count)) == before)
        #expect(plan.steps == budgeted.options.budgetSteps && budgeted.totalSteps == plan.steps)
        #expect(plan.secondsPerStep > 0 && Double(plan.steps) * plan.secondsPerStep <= 3600)

        let steps = min(plan.steps, 6)
        let planned = try TinyTraining.trainer(maxSteps: steps) { $0.timeBudget = 3600; $0.budgetSteps = plan.steps; $0.emaDecay = 0.99 }
        var a: [Double] = [], b: [Double] = []
        for _ in 0..<steps { a.append(try budgeted.trainStep().loss); b.append(try planned.trainStep().loss) }
        #expect(a == b)
        #expect(budgeted.lrSchedule.values(at: 3).0 == planned.lrSchedule.values(at: 3).0)
        #expect(Array(UnsafeBufferPointer(start: budgeted.ema!.shadow, count: 10)) == Array(UnsafeBufferPointer(start: planned.ema!.shadow, count: 10)))
    }

    @Test func budgetTooShortForOneStepIsRefused() throws {
        let trainer = try TinyTraining.trainer { $0.timeBudget = 1e-9 }
        #expect {
            try TimeBudget.plan(trainer, budgetSeconds: 1e-9)
        } throws: { "\($0)".contains("--time-budget") && "\($0)".contains("too short for one step") }
    }

    @Test func planIsFixedOnceAndStoredStepsNeedABudget() throws {
        let trainer = try TinyTraining.trainer { $0.timeBudget = 60 }
        _ = try TimeBudget.plan(trainer, budgetSeconds: 60)
        #expect(throws: TrainingError.self) { try trainer.fixBudgetSteps(5) }
        var options = TrainingOptions()
        options.budgetSteps = 10
        #expect(throws: OptionError.self) { try options.validate() }
    }

    @Test func metricsKeepOldRowsAndContinueTheClock() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/metrics.csv"
        try "step,epoch,loss,lr,images_per_s\n0,0,0.5,1e-3,10\n1,0,0.4,1e-3,10\n".write(toFile: path, atomically: true, encoding: .utf8)
        let old = try MetricsLog(path: path, keepBefore: 2)
        #expect(old.steps == [0, 1] && old.keptTrainSeconds == 0)
        let report = Trainer.StepReport(step: 2, epoch: 0, loss: 0.3, lr: 1e-3, beta1: 0.9, images: 8, seconds: 0.5,
                                        allreduceSeconds: 0, waitSeconds: 0)
        try old.append(report, trainSeconds: 12.5)
        let record = EvaluationRecord(step: 4, imagesSeen: 32, trainSeconds: 20, evalSeconds: 1, weights: "ema", sampler: "x", n: 8,
                                      fid: 3.25, kid: 0.5, kidStd: 0.1, grid: nil)
        try old.append(Trainer.StepReport(step: 3, epoch: 0, loss: 0.2, lr: 1e-3, beta1: 0.9, images: 8, seconds: 0.5,
                                          allreduceSeconds: 0, waitSeconds: 0), trainSeconds: 20, evaluation: record)
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(rows[0] == Substring(MetricsLog.header))
        #expect(rows[1].hasSuffix(",,,") && rows[4].hasSuffix(",20.000,3.25,0.5"))
        let resumed = try MetricsLog(path: path, keepBefore: 3)
        #expect(resumed.steps == [0, 1, 2] && resumed.keptTrainSeconds == 12.5)
    }

    @Test func evaluationLogKeepsTheSeriesUpToTheCheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evals-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = try EvaluationLog(path: dir + "/" + EvaluationLog.fileName, keepThrough: 0)
        for (i, step) in [10, 20, 30].enumerated() {
            try log.append(EvaluationRecord(step: step, imagesSeen: step * 8, trainSeconds: Double(60 * (i + 1)), evalSeconds: 2,
                                            weights: "ema", sampler: "ddim", n: 16, fid: 10 / Double(i + 1), kid: nil, kidStd: nil,
                                            grid: "eval/step-\(step).png"))
        }
        try log.writePlot(to: dir + "/fid.png")
        #expect(FileManager.default.fileExists(atPath: dir + "/fid.png"))
        let resumed = try EvaluationLog(path: dir + "/" + EvaluationLog.fileName, keepThrough: 20)
        #expect(resumed.records.map(\.step) == [10, 20] && resumed.records.last?.trainSeconds == 120)
        #expect(resumed.records[1].fid == 5)
    }
}
