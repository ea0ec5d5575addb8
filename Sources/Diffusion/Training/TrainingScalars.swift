extension TensorBoardWriter {
    /// The tags of a training step's scalars: metrics.csv's loss, lr and images_per_s.
    public enum TrainingTag {
        public static let loss = "train/loss", learningRate = "train/lr", imagesPerSecond = "train/images_per_second"
    }

    /// A training step's metrics.csv row as TensorBoard scalars, at the row's step.
    public func append(_ r: Trainer.StepReport) throws {
        try scalars([(TrainingTag.loss, r.loss), (TrainingTag.learningRate, r.lr),
                     (TrainingTag.imagesPerSecond, Double(r.images) / r.seconds)], step: r.step)
    }
}

extension TensorBoardWriter {
    /// An evaluation during training (`EvaluationRecord`): eval/fid, eval/kid and eval/kid_std
    /// where scored, eval/seconds, and its grid (a PNG in the run folder `directory`) as the
    /// image eval/samples, all at the index of the step after which it ran, as metrics.csv
    /// has it (so a resumed run's purge of later steps keeps the checkpoint's evaluation).
    public func append(_ e: EvaluationRecord, directory: String) throws {
        let step = e.step - 1
        let scores = [("eval/fid", e.fid), ("eval/kid", e.kid), ("eval/kid_std", e.kidStd)].compactMap { tag, value in
            value.map { (tag: tag, value: $0) }
        }
        try scalars(scores + [(tag: "eval/seconds", value: e.evalSeconds)], step: step)
        if let grid = e.grid { try image("eval/samples", pngFile: directory + "/" + grid, step: step) }
    }
}
