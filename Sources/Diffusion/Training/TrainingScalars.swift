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
    /// An evaluation during training (`EvaluationRecord`) at its step (optimizer steps taken):
    /// eval/fid, eval/kid and eval/kid_std where scored, eval/seconds, and its grid (a PNG in
    /// the run folder `directory`) as the image eval/samples.
    public func append(_ e: EvaluationRecord, directory: String) throws {
        let scores = [("eval/fid", e.fid), ("eval/kid", e.kid), ("eval/kid_std", e.kidStd)].compactMap { tag, value in
            value.map { (tag: tag, value: $0) }
        }
        try scalars(scores + [(tag: "eval/seconds", value: e.evalSeconds)], step: e.step)
        if let grid = e.grid { try image("eval/samples", pngFile: directory + "/" + grid, step: e.step) }
    }
}
