import Diffusion
import Foundation
import Testing

/// `launcher sample --class` and `launcher guidance-sweep` under mpirun: on the class-conditional
/// parity fixture (Tests/Fixtures/tiny-class, 16x16) and on a tiny 32x32 model trained with
/// --conditional for two steps (the guidance sweep needs the classifier's 32x32 images).
@Suite(.serialized) struct ConditionalEndToEndTests {
    static var fixtures: String {
        let file = "\(#filePath)"
        let tests = file[..<file.lastIndex(of: "/")!]
        return String(tests[..<tests.lastIndex(of: "/")!]) + "/Fixtures"
    }

    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cond-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static let sample = ["sample", "--sampler", "ddim", "--steps", "4", "--eta", "1", "--threads", "1"]

    /// Image i's class (--class all: i / (n/10)) and noise come from its index: the same images
    /// at 1, 2 and 3 ranks; samples.png has one labelled row per class.
    @Test func classAllIsTheSameAtAnyRankCountWithALabelledGrid() throws {
        let base = temporaryDirectory()
        var images: [[Float]] = []
        for ranks in 1...3 {
            let out = base + "/np\(ranks)"
            let run = try MPIRun.launcher(Self.sample + ["--model", Self.fixtures + "/tiny-class", "--class", "all", "--n", "20",
                                                         "--guidance-scale", "3", "--out", out], ranks: ranks, timeout: 600)
            #expect(run.status == 0, "np=\(ranks): \(run.stderr)")
            #expect(run.stdout.contains("class all, guidance scale 3"), "\(run.stdout)")
            images.append(try NPY.read(out + "/samples.npy").floats)
        }
        for r in 1..<3 {
            let diff = zip(images[0], images[r]).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-4, "np=\(r + 1) vs np=1: \(diff)")
        }
        // 10 rows of 2 images of 16 pixels and a label margin: wider than the plain 2-column grid.
        let png = try Data(contentsOf: URL(fileURLWithPath: base + "/np1/samples.png"))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(height == 10 * 16 + 11 * 2)
        #expect(width > 2 * 16 + 3 * 2 + 50, "width \(width)")
    }

    @Test func oneClassByNameDiffersFromAnother() throws {
        let base = temporaryDirectory()
        var images: [[Float]] = []
        for name in ["Sneaker", "7", "Trouser"] {
            let run = try MPIRun.launcher(Self.sample + ["--model", Self.fixtures + "/tiny-class", "--class", name, "--n", "3",
                                                         "--out", base + "/\(name)"], ranks: 1, timeout: 600)
            #expect(run.status == 0, "\(name): \(run.stderr)")
            images.append(try NPY.read(base + "/\(name)/samples.npy").floats)
        }
        #expect(images[0] == images[1], "Sneaker is class 7")
        #expect(images[0] != images[2])
    }

    @Test(arguments: [
        (["--model", "tiny"], "the model is unconditional"),
        (["--model", "tiny", "--class", "Sneaker"], "--class and --guidance-scale need a model trained with `launcher train --conditional`"),
        (["--model", "tiny-class"], "give --class NAME|INDEX|all"),
        (["--model", "tiny-class", "--class", "sneakers"], "unknown class 'sneakers'"),
        (["--model", "tiny-class", "--class", "all", "--n", "15"], "--n must be a positive multiple of 10, got 15"),
        (["--model", "tiny-class", "--class", "7", "--guidance-scale", "nan"], "--guidance-scale must be a finite number in [0, 100], got nan"),
        (["--model", "tiny-class", "--guidance-scale", "2"], "--guidance-scale needs --class"),
    ])
    func classOptionsAreCheckedWithClearErrors(arguments: [String], message: String) throws {
        var args = arguments
        args[1] = Self.fixtures + "/" + args[1]
        if !args.contains("--n") { args += ["--n", "2"] }
        let run = try MPIRun.launcher(Self.sample + args + ["--out", temporaryDirectory()], ranks: 2, timeout: 120)
        if message == "the model is unconditional" {  // no --class on an unconditional model: samples as ever
            #expect(run.status == 0, "\(run.stderr)")
            return
        }
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test func compareSamplersPointsConditionalModelsToTheSweep() throws {
        let run = try MPIRun.launcher(["compare-samplers", "--model", Self.fixtures + "/tiny-class", "--n", "10", "--threads", "1",
                                       "--out", temporaryDirectory()], ranks: 2, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains("is class-conditional (10 classes)") && run.stderr.contains("guidance-sweep"), "\(run.stderr)")
    }

    /// Two conditional training steps on 32x32 images, then a sweep over two scales with a
    /// small reference: the files and the table are there, the accuracy is a fraction.
    @Test(.enabled(if: CommittedClassifier.exists, "models/fashion-classifier is not there"))
    func guidanceSweepWritesItsTableAndPlot() throws {
        let base = temporaryDirectory()
        let train = try MPIRun.launcher(TrainEndToEndTests.common + ["--conditional", "--max-steps", "2", "--samples", "10",
                                                                     "--sampler", "ddim", "--out", base + "/train"],
                                        ranks: 2, timeout: 600)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("every class, guidance scale 2"), "\(train.stdout)")
        let out = base + "/sweep"
        let sweep = try MPIRun.launcher(["guidance-sweep", "--model", base + "/train/model", "--n", "20", "--scales", "0", "2",
                                         "--sampler", "ddim", "--steps", "2", "--classifier", CommittedClassifier.directory,
                                         "--reference-limit", "200", "--kid-subsets", "5", "--cache-dir", base + "/cache",
                                         "--threads", "1", "--out", out], ranks: 2, timeout: 900)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        for file in ["guidance.csv", "guidance.json", "guidance.md", "guidance.png", "grid_w0.png", "grid_w2.png"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        let csv = try String(contentsOfFile: out + "/guidance.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 3)
        #expect(csv[0].hasPrefix("guidance_scale,accuracy,fid") && csv[0].contains("accuracy_Ankle_boot"), "\(csv[0])")
        let fields = csv[2].split(separator: ",", omittingEmptySubsequences: false)
        #expect(fields[0] == "2" && fields[7] == "2", "w = 2 is guided: 2 passes (\(csv[2]))")
        let accuracy = try #require(Double(fields[1]))
        #expect((0...1).contains(accuracy))
        #expect(sweep.stdout.contains("| w | accuracy | FID |"), "\(sweep.stdout)")
        // --replot redraws the plot from guidance.json alone.
        try FileManager.default.removeItem(atPath: out + "/guidance.png")
        let replot = try MPIRun.launcher(["guidance-sweep", "--replot", "--out", out], ranks: 1, timeout: 120)
        #expect(replot.status == 0, "\(replot.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/guidance.png"))
        // An unconditional model is refused by name.
        let plain = try MPIRun.launcher(["guidance-sweep", "--model", Self.fixtures + "/tiny", "--n", "10", "--threads", "1",
                                         "--out", base + "/plain"], ranks: 1, timeout: 120)
        #expect(plain.status != 0 && plain.stderr.contains("unconditional"), "\(plain.stderr)")
    }
}
