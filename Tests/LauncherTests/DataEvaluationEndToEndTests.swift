import Diffusion
import Foundation
import Testing

/// `guidance-sweep` and `compare-samplers` on models trained on your data: scored against
/// that data (--reference PATH) with a classifier trained on it (--classifier DIR), class
/// names from the run's data.json; the meaningless cases stay refused.
@Suite(.serialized) struct DataEvaluationEndToEndTests {
    /// 24 labelled shapes (disc, square), a classifier trained on them, and a model trained
    /// on them (conditional or not) for two steps.
    func prepared(conditional: Bool) throws -> (dir: String, config: String) {
        let dir = GeneratedShapes.temporaryDirectory("data-eval")
        try GeneratedShapes.shapes(in: dir + "/shapes", count: 24)
        let config = try GeneratedShapes.rgbConfig(dir, size: 16)
        let classifier = try GeneratedShapes.trainClassifier(data: dir + "/shapes", out: dir + "/classifier")
        #expect(classifier.status == 0, "\(classifier.stderr)")
        let train = try MPIRun.launcher(["train", "--data", dir + "/shapes", "--config", config, "--batch-size", "8", "--max-steps", "2",
                                         "--samples", "0", "--threads", "1", "--out", dir + "/run"] + (conditional ? ["--conditional"] : []),
                                        ranks: 2, timeout: 600)
        #expect(train.status == 0, "\(train.stderr)")
        return (dir, config)
    }

    @Test func guidanceSweepScoresAgainstTheDataWithItsClassNames() throws {
        let (dir, _) = try prepared(conditional: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let common = ["guidance-sweep", "--model", dir + "/run", "--scales", "0", "2", "--sampler", "ddim", "--steps", "2",
                      "--threads", "1"]
        let fid = ["--reference", dir + "/shapes", "--classifier", dir + "/classifier", "--kid-subsets", "5", "--kid-subset-size", "4"]
        let sweep = try MPIRun.launcher(common + ["--n", "4", "--out", dir + "/sweep"] + fid, ranks: 2, timeout: 900)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let csv = try String(contentsOfFile: dir + "/sweep/guidance.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 3 && csv[0].hasSuffix("accuracy_disc,accuracy_square"), "\(csv)")
        let fields = csv[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(fields.count == 11 && Double(fields[2])?.isFinite == true, "an FID for w = 0: \(csv[1])")
        #expect(sweep.stdout.contains("(2 per class)") && sweep.stdout.contains("| disc | square |"), "\(sweep.stdout)")
        #expect(sweep.stdout.contains("reference: folder \(dir)/shapes, 24 images"), "\(sweep.stdout)")
        let rows = try JSONDecoder().decode([GuidanceSweep.Row].self, from: Data(try FileBytes.read(dir + "/sweep/guidance.json")))
        #expect(rows.map(\.classNames) == [["disc", "square"], ["disc", "square"]])

        // Still refused: the Fashion-MNIST reference for this model, the Fashion-MNIST classifier
        // for this data, a classifier of other classes, --n not a multiple of the classes.
        let fashion = try MPIRun.launcher(common + ["--n", "4", "--out", dir + "/r1"], ranks: 1, timeout: 300)
        #expect(fashion.status != 0 && fashion.stderr.contains("not Fashion-MNIST"), "\(fashion.stderr)")
        let committed = try MPIRun.launcher(common + ["--n", "4", "--reference", dir + "/shapes", "--out", dir + "/r2"], ranks: 1, timeout: 300)
        #expect(committed.status != 0 && committed.stderr.contains("trained on Fashion-MNIST"), "\(committed.stderr)")
        try FileManager.default.copyItem(atPath: dir + "/classifier", toPath: dir + "/other")
        var record = try #require(try DataRecord.read(from: dir + "/other"))
        record.classNames = ["cat", "dog"]
        try record.write(to: dir + "/other")
        let other = try MPIRun.launcher(common + ["--n", "4", "--reference", dir + "/shapes", "--classifier", dir + "/other",
                                                  "--out", dir + "/r3"], ranks: 1, timeout: 300)
        #expect(other.status != 0 && other.stderr.contains("'cat', 'dog'") && other.stderr.contains("'disc', 'square'"), "\(other.stderr)")
        let odd = try MPIRun.launcher(common + ["--n", "5", "--out", dir + "/r4"] + fid, ranks: 1, timeout: 300)
        #expect(odd.status != 0 && odd.stderr.contains("multiple of 2"), "\(odd.stderr)")
        // An unconditional sampler comparison refuses this conditional model, --reference or not.
        let compare = try MPIRun.launcher(["compare-samplers", "--model", dir + "/run", "--only", "ddim-10", "--n", "4",
                                           "--threads", "1", "--out", dir + "/r5"] + fid, ranks: 1, timeout: 300)
        #expect(compare.status != 0 && compare.stderr.contains("is class-conditional (2 classes)"), "\(compare.stderr)")
    }

    @Test func compareSamplersScoresAgainstTheData() throws {
        let (dir, _) = try prepared(conditional: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let common = ["compare-samplers", "--model", dir + "/run", "--only", "ddim-10", "euler-ancestral-10", "--n", "4",
                      "--headline-n", "6", "--threads", "1"]
        let run = try MPIRun.launcher(common + ["--reference", dir + "/shapes", "--classifier", dir + "/classifier",
                                                "--kid-subsets", "5", "--kid-subset-size", "4", "--out", dir + "/cmp"],
                                      ranks: 2, timeout: 900)
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try JSONDecoder().decode([SamplerComparison.Row].self, from: Data(try FileBytes.read(dir + "/cmp/comparison.json")))
        #expect(rows.count == 4, "two rows for each of the EMA and raw weights: \(rows.map(\.label))")
        #expect(rows.allSatisfy { $0.fid.isFinite } && rows.map(\.images).sorted() == [4, 4, 6, 6], "\(rows)")
        #expect(run.stdout.contains("reference: folder \(dir)/shapes, 24 images"), "\(run.stdout)")
        // Refused: the Fashion-MNIST reference, and the Fashion-MNIST classifier for this data.
        let fashion = try MPIRun.launcher(common + ["--out", dir + "/r1"], ranks: 1, timeout: 300)
        #expect(fashion.status != 0 && fashion.stderr.contains("not Fashion-MNIST"), "\(fashion.stderr)")
        let committed = try MPIRun.launcher(common + ["--reference", dir + "/shapes", "--out", dir + "/r2"], ranks: 1, timeout: 300)
        #expect(committed.status != 0 && committed.stderr.contains("trained on Fashion-MNIST"), "\(committed.stderr)")
    }
}
