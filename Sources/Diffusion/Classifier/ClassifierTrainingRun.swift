import Foundation

/// A classifier training run on disk: the loop around `ClassifierTrainer` that, after each
/// epoch, measures test accuracy over the ranks and (rank 0) writes the classifier folder and
/// metrics.csv, each atomically. Rank 0 shows a progress bar per epoch and `log`s a line.
public enum ClassifierTrainingRun {
    public static func run(_ trainer: ClassifierTrainer, test: (images: Tensor, labels: [Int]), directory: String,
                           log: (String) -> Void) throws {
        let group = trainer.group, model = trainer.model
        var csv = "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n"
        let t0 = Date()
        var epochLoss = 0.0, epochHits = 0.0, epochImages = 0
        var bar = group.isRoot ? ProgressBar(total: trainer.stepsPerEpoch, label: "epoch 1") : nil
        while !trainer.isFinished {
            let r = try trainer.trainStep()
            epochLoss += r.loss * Double(r.images); epochHits += r.accuracy * Double(r.images); epochImages += r.images
            let inEpoch = trainer.step - r.epoch * trainer.stepsPerEpoch
            bar?.update(done: inEpoch, info: String(format: "loss %.4f  acc %.2f%%  lr %.2e",
                                                    epochLoss / Double(epochImages), 100 * epochHits / Double(epochImages), r.lr))
            guard inEpoch == trainer.stepsPerEpoch || trainer.isFinished else { continue }

            // End of an epoch: test accuracy on every rank's share, then rank 0 writes.
            let eval = try ClassifierEvaluation.evaluate(model, images: test.images, labels: test.labels, group: group)
            let seconds = Date().timeIntervalSince(t0)
            if group.isRoot {
                bar?.finish()
                log(String(format: "epoch %d: train loss %.4f, accuracy %.2f%%; test loss %.4f, accuracy %.2f%% (%d images); %.0f s",
                           r.epoch + 1, epochLoss / Double(epochImages), 100 * epochHits / Double(epochImages),
                           eval.loss, 100 * eval.accuracy, eval.count, seconds))
                csv += String(format: "%d,%d,%.6f,%.6f,%.6f,%.6f,%.1f\n", r.epoch + 1, trainer.step,
                              epochLoss / Double(epochImages), epochHits / Double(epochImages), eval.loss, eval.accuracy, seconds)
                try ClassifierFolder.save(model, to: directory)
                try FileBytes.writeAtomically(Array(csv.utf8), to: directory + "/metrics.csv")
                if !trainer.isFinished { bar = ProgressBar(total: trainer.stepsPerEpoch, label: "epoch \(r.epoch + 2)") }
            }
            epochLoss = 0; epochHits = 0; epochImages = 0
        }
    }
}
