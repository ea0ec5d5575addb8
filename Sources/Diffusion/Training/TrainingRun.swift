import Foundation

/// A training run on disk: the loop around `Trainer` that writes, on rank 0, the checkpoint
/// (training state + diffusers model folder + loss plot) every `checkpointEvery` steps and at
/// the end, appends metrics.csv and the TensorBoard scalars every step, and stops cleanly — on
/// every rank at the same step — when asked to.
///
/// Folder layout:
///   model/                        diffusers folder (config.json + diffusion_pytorch_model.safetensors)
///   model-ema/                    the same for the EMA of the weights (when on)
///   training_state.safetensors    parameters, Adam moments, EMA, step, options (for --resume)
///   metrics.csv, loss.png
///   tensorboard/events.out.tfevents.*   the same metrics for TensorBoard (a new file per start)
///   evaluations.jsonl, fid.png, eval/step-NNNNNN.png   with an `evaluation`
///
/// The run keeps a training clock: wall time spent training, continued across --resume
/// from metrics.csv, with evaluations left out (they are timed apart).
public final class TrainingRun {
    public let trainer: Trainer
    public let directory: String
    public let checkpointEvery: Int
    let metrics: MetricsLog?
    /// Rank 0's evaluation records (with an `evaluation`).
    private var evaluations: EvaluationLog?
    /// Sample quality measured while training; set before `run`.
    public private(set) var evaluation: TrainingEvaluation?
    /// Training seconds before this session (a resumed run's).
    public let earlierTrainSeconds: Double
    /// Wall seconds of this session's evaluations, kept off the training clock.
    public private(set) var evaluationSeconds = 0.0
    /// This session's training clock starts with the run (a time budget's probe included).
    private let sessionStart = ResourceUsage.now()
    /// Rank 0's TensorBoard log in `tensorBoardPath` (nil on other ranks or when turned off),
    /// for whatever else a run logs there (the final sample grid, evaluations).
    public let tensorBoard: TensorBoardWriter?

    public var statePath: String { directory + "/" + TrainingCheckpoint.fileName }
    public var modelPath: String { directory + "/model" }
    public var emaModelPath: String { directory + "/" + RunWeights.emaFolder }
    public var lossPlotPath: String { directory + "/loss.png" }
    public static let tensorBoardFolder = "tensorboard"
    public var tensorBoardPath: String { directory + "/" + Self.tensorBoardFolder }

    public init(trainer: Trainer, directory: String, checkpointEvery: Int, tensorBoard: Bool = true) throws {
        self.trainer = trainer; self.directory = directory; self.checkpointEvery = max(1, checkpointEvery)
        if trainer.group.isRoot {
            try FileError.createFolder(directory)
            metrics = try MetricsLog(path: directory + "/metrics.csv", keepBefore: trainer.step)
            // Starting the log at this step, TensorBoard drops what an earlier start logged from
            // here on, as metrics.csv keeps only the rows before it.
            let logs = directory + "/" + Self.tensorBoardFolder
            self.tensorBoard = tensorBoard ? try TensorBoardWriter(directory: logs, startStep: trainer.step) : nil
        } else {
            metrics = nil
            self.tensorBoard = nil
        }
        // Rank 0's clock is the one that counts (it decides time budgets and cadences).
        earlierTrainSeconds = Double(try trainer.group.broadcast(String(metrics?.keptTrainSeconds ?? 0))) ?? 0
    }

    /// Training wall time so far, this session's and earlier ones', evaluations not counted.
    public var trainSeconds: Double { earlierTrainSeconds + ResourceUsage.now() - sessionStart - evaluationSeconds }

    /// What rank 0 prints at the end: the training clock, against the budget if there is one,
    /// and the evaluations' time apart.
    public var timeSummary: String {
        var line = "training time \(WallDuration.format(trainSeconds))"
        if let budget = trainer.options.timeBudget {
            line += String(format: " of a %@ budget (%+.1f%%)", WallDuration.format(budget), 100 * (trainSeconds / budget - 1))
            if let pace = trainer.options.budgetPace, let steps = trainer.options.budgetSteps {
                line += ", \(steps) steps (first plan \(pace.scheduleSteps), re-planned \(pace.knots.count - 1) times)"
            }
        }
        if evaluation != nil { line += ", evaluations \(WallDuration.format(evaluationSeconds)) apart" }
        return line
    }

    public var evaluationsPath: String { directory + "/" + EvaluationLog.fileName }
    public var fidPlotPath: String { directory + "/" + EvaluationLog.plotName }

    /// Evaluates the run as `settings` say while it trains (and once at its end).
    public func evaluate(with settings: TrainingEvaluation.Settings) throws {
        evaluation = TrainingEvaluation(settings: settings, trainSeconds: trainSeconds)
        if trainer.group.isRoot { evaluations = try EvaluationLog(path: evaluationsPath, keepThrough: trainer.step) }
    }

    /// Turns the options' time budget into the schedule's step count (once, at a new run's
    /// start: a resumed run keeps its stored plan). nil when there is nothing to plan.
    public func planTimeBudget() throws -> TimeBudget.Plan? {
        guard trainer.options.awaitsBudgetPlan, let budget = trainer.options.timeBudget else { return nil }
        return try TimeBudget.plan(trainer, budgetSeconds: budget, spentSeconds: earlierTrainSeconds)
    }

    /// Where the time budget's rate is measured from: the start of `run`, then the last re-plan.
    private var budgetMark: TimeBudget.Mark?

    /// At the plan's re-plan points, fits the steps left to the time left (`TimeBudget.replan`).
    private func replanTimeBudgetIfDue() throws {
        guard let budget = trainer.options.timeBudget, !trainer.isFinished, let mark = budgetMark,
              let due = TimeBudget.nextReplanStep(trainer.options), trainer.step >= due else { return }
        let seconds = trainSeconds
        trainer.group.setStallContext(step: trainer.step - 1, part: "time budget re-plan")
        try TimeBudget.replan(trainer, budgetSeconds: budget, trainSeconds: seconds, since: mark)
        budgetMark = TimeBudget.Mark(step: trainer.step, trainSeconds: seconds)
    }

    /// Rank 0 writes the state, the model folder and the loss plot; each file atomically,
    /// the state last-but-not-least so it never points past a model that was not written.
    public func writeCheckpoint() throws {
        guard trainer.group.isRoot else { return }
        // Nothing is written unless everything is finite: the last good checkpoint stays whole.
        try TrainingCheckpoint.checkFinite(trainer, before: statePath)
        try DiffusersFolder.save(trainer.model, to: modelPath)
        if let ema = trainer.ema { try DiffusersFolder.save(try ema.model(config: trainer.model.config), to: emaModelPath) }
        try PipelineSchedulerConfig.write(schedule: trainer.schedule, prediction: trainer.model.predictionType, inRun: directory)
        try TrainingCheckpoint.save(trainer, to: statePath)
        try metrics?.writeLossPlot(to: lossPlotPath, loss: TrainingTarget.lossLabel(trainer.options.predictionType ?? .epsilon,
                                                                                 snrGamma: trainer.options.snrGamma))
    }

    /// `stoppedBeforeFirstStep`: asked to stop before this session took a step; nothing was
    /// written (a resumed run's checkpoint stays as it was).
    public enum Outcome { case finished, stopped, stoppedBeforeFirstStep }

    /// Whether any rank has been asked to stop (collective: every rank gets the same answer).
    /// The loop asks after every step; a command asks before long work that precedes the first
    /// step, so a signal that came while the job started stops it there.
    public func agreeToStop(_ shouldStop: () -> Bool) throws -> Bool {
        trainer.group.setStallContext(step: nil, part: "agreement on stopping before the first step")
        return try trainer.group.allreduceSum([shouldStop() ? 1 : 0])[0] > 0
    }

    /// Trains until the plan (or --max-steps) is done or `shouldStop` turns true on any rank.
    /// `onEvaluation` gets rank 0's record of each evaluation.
    public func run(shouldStop: () -> Bool, onStep: (Trainer.StepReport) -> Void,
                    onEvaluation: (EvaluationRecord) -> Void = { _ in }) throws -> Outcome {
        if !trainer.isFinished, try agreeToStop(shouldStop) { return .stoppedBeforeFirstStep }
        budgetMark = TimeBudget.Mark(step: trainer.step, trainSeconds: trainSeconds)
        while !trainer.isFinished {
            let report = try trainer.trainStep()
            onStep(report)
            // Every rank must leave, and evaluate, at the same steps: one sum agrees on both
            // (rank 0's clock decides a time cadence).
            trainer.group.setStallContext(step: trainer.step - 1, part: "agreement on stopping and evaluating")
            let due = trainer.group.isRoot && evaluation?.isDue(stepsTaken: trainer.step, trainSeconds: trainSeconds) == true
            let flags = try trainer.group.allreduceSum([shouldStop() ? 1 : 0, due || (trainer.isFinished && evaluation != nil) ? 1 : 0])
            let seconds = trainSeconds
            let record = flags[1] > 0 ? try evaluateNow(trainSeconds: seconds) : nil
            try metrics?.append(report, trainSeconds: seconds, evaluation: record)
            try tensorBoard?.append(report)
            if let record {
                try tensorBoard?.append(record, directory: directory)
                onEvaluation(record)
            }
            try replanTimeBudgetIfDue()
            if trainer.step % checkpointEvery == 0 && !trainer.isFinished { try writeCheckpoint() }
            if flags[0] > 0 {
                try writeCheckpoint()
                return .stopped
            }
        }
        try writeCheckpoint()
        return .finished
    }

    /// One evaluation now, off the training clock. Collective; rank 0's record.
    private func evaluateNow(trainSeconds seconds: Double) throws -> EvaluationRecord? {
        guard let evaluation else { return nil }
        let t0 = ResourceUsage.now()
        defer { evaluationSeconds += ResourceUsage.now() - t0 }
        trainer.group.setStallContext(step: trainer.step - 1, part: "evaluation")
        let record = try evaluation.run(trainer: trainer, trainSeconds: seconds, directory: directory,
                                        grid: String(format: "eval/step-%06d.png", trainer.step))
        evaluation.markDone(trainSeconds: seconds)
        if let record, let evaluations {
            try evaluations.append(record)
            try evaluations.writePlot(to: fidPlotPath)
        }
        return record
    }
}
