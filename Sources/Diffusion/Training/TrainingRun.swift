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
public final class TrainingRun {
    public let trainer: Trainer
    public let directory: String
    public let checkpointEvery: Int
    let metrics: MetricsLog?
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
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            metrics = try MetricsLog(path: directory + "/metrics.csv", keepBefore: trainer.step)
            // Starting the log at this step, TensorBoard drops what an earlier start logged from
            // here on, as metrics.csv keeps only the rows before it.
            let logs = directory + "/" + Self.tensorBoardFolder
            self.tensorBoard = tensorBoard ? try TensorBoardWriter(directory: logs, startStep: trainer.step) : nil
        } else {
            metrics = nil
            self.tensorBoard = nil
        }
    }

    /// Rank 0 writes the state, the model folder and the loss plot; each file atomically,
    /// the state last-but-not-least so it never points past a model that was not written.
    public func writeCheckpoint() throws {
        guard trainer.group.isRoot else { return }
        // Nothing is written unless everything is finite: the last good checkpoint stays whole.
        try TrainingCheckpoint.checkFinite(trainer, before: statePath)
        try DiffusersFolder.save(trainer.model, to: modelPath)
        if let ema = trainer.ema { try DiffusersFolder.save(try ema.model(config: trainer.model.config), to: emaModelPath) }
        try TrainingCheckpoint.save(trainer, to: statePath)
        try metrics?.writeLossPlot(to: lossPlotPath)
    }

    public enum Outcome { case finished, stopped }

    /// Trains until the plan (or --max-steps) is done or `shouldStop` turns true on any rank.
    public func run(shouldStop: () -> Bool, onStep: (Trainer.StepReport) -> Void) throws -> Outcome {
        while !trainer.isFinished {
            let report = try trainer.trainStep()
            try metrics?.append(report)
            try tensorBoard?.append(report)
            onStep(report)
            if trainer.step % checkpointEvery == 0 && !trainer.isFinished { try writeCheckpoint() }
            // Every rank must leave at the same step: agree on the stop flag.
            let stop = try trainer.group.allreduceSum([shouldStop() ? 1 : 0])[0] > 0
            if stop {
                try writeCheckpoint()
                return .stopped
            }
        }
        try writeCheckpoint()
        return .finished
    }
}
