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
