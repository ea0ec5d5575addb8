import Foundation
import Testing

/// Every bad numeric flag is refused before any work: non-zero exit, a message naming the
/// flag, and nothing written (the run folder is not created).
@Suite(.serialized) struct FlagValidationTests {
    static let train = ["train", "--preset", "tiny", "--train-subset", "96", "--batch-size", "24", "--max-steps", "1",
                        "--samples", "0", "--threads", "1"]

    /// (arguments after the command's defaults, the flag the error must name)
    static let cases: [([String], String)] = [
        (train + ["--max-lr", "inf"], "--max-lr"),
        (train + ["--max-lr", "0"], "--max-lr"),
        (train + ["--pct-start", "nan"], "--pct-start"),
        (train + ["--div-factor", "0"], "--div-factor"),
        (train + ["--final-div-factor", "-1"], "--final-div-factor"),
        (train + ["--adam-eps", "nan"], "--adam-eps"),
        (train + ["--beta2", "2"], "--beta2"),
        (train + ["--beta-max", "1"], "--beta-max"),
        (train + ["--max-grad-norm", "-1"], "--max-grad-norm"),
        (train + ["--bucket-mib", "inf"], "--bucket-mib"),
        (train + ["--bucket-mib", "0"], "--bucket-mib"),
        (train + ["--train-subset=-5"], "--train-subset"),
        (train + ["--train-subset", "0"], "--train-subset"),
        (train + ["--batch-size", "100000000"], "--batch-size"),
        (train + ["--epochs", "100000000000"], "--epochs"),
        (train + ["--max-steps", "0"], "--max-steps"),
        (train + ["--checkpoint-every", "0"], "--checkpoint-every"),
        (train + ["--samples", "-1"], "--samples"),
        (train + ["--threads", "0"], "--threads"),
        (train + ["--sampler", "ddpn"], "--sampler"),
        (train + ["--sampler", "ddpn"], "euler-ancestral"),  // lists the samplers
        (train + ["--preset", "large"], "--preset"),
        (train + ["--stall-warning", "5"], "--stall-warning"),  // no unit
        (train + ["--stall-timeout", "soon"], "--stall-timeout"),
        (train + ["--stall-warning", "2m", "--stall-timeout", "1m"], "--stall-timeout"),  // before the warning
        (train + ["--ema-decay", "1"], "--ema-decay"),
        (train + ["--ema-decay=-0.5"], "--ema-decay"),
        (train + ["--ema-decay", "nan"], "--ema-decay"),
        (train + ["--ema-min-decay", "0.9999"], "--ema-min-decay"),
        (train + ["--ema-update-after-step=-1"], "--ema-update-after-step"),
        (train + ["--ema-power", "0"], "--ema-power"),
        (train + ["--ema-inv-gamma", "2"], "--ema-inv-gamma"),
        (train + ["--ema-decay", "0", "--ema-power", "0.75"], "--ema-power"),
        (train + ["--prediction-type", "x"], "--prediction-type"),
        (train + ["--snr-gamma", "0"], "--snr-gamma"),
        (train + ["--snr-gamma", "nan"], "--snr-gamma"),
        (train + ["--snr-gamma", "2e6"], "--snr-gamma"),
        (["sample", "--model", "m", "--prediction-type", "v"], "--prediction-type"),
        (train + ["--backend", "mkl"], "--backend"),
        (train + ["--backend", "swift", "--precision", "bf16"], "--precision"),
        (train + ["--backend", "onednn", "--precision", "fp16"], "--precision"),
        (train + ["--backend", "swift", "--precision", "auto"], "--precision"),
        (train + ["--backend", "swift", "--conv-algorithm", "winograd"], "--conv-algorithm"),
        (train + ["--conv-algorithm", "fft"], "--conv-algorithm"),
        (["sample", "--model", "m", "--n", "-1"], "--n"),
        (["sample", "--model", "m", "--n", "0"], "--n"),
        (["sample", "--model", "m", "--eta", "2", "--sampler", "ddim"], "eta"),
        (["sample", "--model", "m", "--steps", "0", "--sampler", "ddim"], "steps"),
        (["sample", "--model", "m", "--beta-max", "nan"], "--beta-max"),
        (["sample", "--model", "m", "--spacing", "cosine"], "--spacing"),
        (["sample", "--model", "m", "--skip", "every5"], "--skip"),
        (["sample", "--model", "m", "--skip", "every5"], "every-step"),  // lists the presets
        (["sample", "--model", "m", "--sampler", "ddim", "--skip", "all"], "ddim does not take skip"),  // `all` still parses
        (["sample", "--model", "m", "--spacing", "cosine"], "quadratic"),  // lists the spacings
        (["sample", "--model", "m", "--sampler", "ddim", "--spacing", "leading"], "ddim does not take timestep spacing 'leading'"),
        (["sample", "--model", "m", "--sampler", "ddpm", "--steps", "10"], "ddpm does not take steps; steps applies to: ddpm-diffusers"),
        (["sample", "--model", "m", "--sampler", "dpmsolver++", "--order", "4"], "--order"),
        (["sample", "--model", "m", "--sampler", "ddim", "--order", "2"], "order"),
        (["sample", "--model", "m", "--sampler", "sde-dpmsolver++", "--steps", "1000"], "steps"),
        (["sample", "--model", "m", "--sampler", "euler-ancestral", "--karras"], "karras"),
        (["sample", "--model", "m", "--weights", "best"], "--weights"),
        (["sample", "--model", "m", "--fid", "--kid-subsets", "0"], "--kid-subsets"),
        (["fid", "--samples", "real:test", "--samples-limit", "1"], "--samples-limit"),
        (["fid", "--samples", "real:test", "--feature-batch", "0"], "--feature-batch"),
        (["fid", "--samples", "real:test", "--reference", "validation"], "--reference"),
        (["fid", "--samples", "real:validation"], "--samples"),
        (["fid", "--samples", "samples.npy", "--samples-limit", "10"], "--samples-limit"),
        (["sample", "--model", "m", "--class", "sneakers"], "--class"),
        (["compare-samplers", "--model", "m", "--only", "99"], "--only"),
        (["compare-samplers", "--model", "m", "--only", "ddim-7"], "ddim-recipe-every10"),  // lists the row names
        (["compare-samplers", "--model", "m", "--headline-n", "1"], "--headline-n"),
        (["compare-samplers", "--model", "m", "--weights", "best"], "--weights"),
        (["compare-samplers", "--model", "m", "--n", "1"], "--n"),
        (["train-classifier", "--max-shift", "16"], "--max-shift"),
        (["train-classifier", "--channels", "32", "0"], "--channels"),
        (["train-classifier", "--max-lr", "inf"], "--max-lr"),
        (["bench", "model", "--preset", "tiny"], "--preset"),
        (["bench", "model", "--iterations", "0"], "--iterations"),
        (["bench", "model", "--json", "/nonexistent-folder/bench.json"], "/nonexistent-folder/bench.json"),
        (["bench", "conv", "--repeats", "0"], "--repeats"),
        (["bench", "conv", "--batch", "0"], "--batch"),
        (["bench", "conv", "--json", "/nonexistent-folder/conv.json"], "/nonexistent-folder/conv.json"),
        (["bench", "model", "--precision", "fp16"], "--precision"),
        (["bench", "train", "--bucket-mib", "-1"], "--bucket-mib"),
        (["bench", "train", "--batch", "0"], "--batch"),
        (["bench", "sample", "--n", "0"], "--n"),
        (["bench", "allreduce", "--sizes", "3"], "--sizes"),
        (["bench", "model-scaling", "--images-per-second", "nan"], "--images-per-second"),
        (["bench", "model-scaling", "--images-per-second", "10", "--ranks", "0"], "--ranks"),
        (["bench", "kernels", "--only", "softmax"], "--only"),
        (["bench", "kernels", "--repeats", "0"], "--repeats"),
        (["predict", "--model", "m", "--input", "i", "--output", "o", "--threads", "-2"], "--threads"),
        (["data-preview", "--out", "p.png", "--count", "0"], "--count"),
        (train + ["--data-memory", "100"], "--data-memory"),                      // needs --data
        (train + ["--data", ".", "--data-memory", "-1"], "--data-memory"),
        (train + ["--data-cache", "cache"], "--data-cache"),                      // needs --data
        (train + ["--data", ".", "--data-cache", "cache", "--no-data-cache"], "--data-cache"),
    ]

    @Test(arguments: cases)
    func badFlagIsRefusedBeforeAnyWork(arguments: [String], flag: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Relative --out: a run folder would appear in `folder`.
        let outFlag = ["train", "sample", "compare-samplers", "train-classifier"].contains(arguments[0]) ? ["--out", "run"] : []
        let run = try MPIRun.run([try MPIRun.launcherURL().path] + arguments + outFlag, timeout: 60, directory: folder)
        #expect(run.status != 0, "\(arguments): exit 0\n\(run.stdout)")
        #expect(run.stderr.contains(flag), "\(arguments): stderr does not name \(flag):\n\(run.stderr)")
        #expect(!run.stderr.contains("Fatal error") && run.status < 128, "\(arguments): crashed\n\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "\(arguments) wrote files")
    }

    /// (arguments, what the message must hold besides the flag: the bad value and what is allowed)
    static let valueCases: [([String], [String])] = [
        (["fid", "--samples", "real:validation"], ["--samples", "'real:validation'", "real:train, real:test", ".npy"]),
        (["sample", "--model", "m", "--class", "sneakers"], ["--class", "'sneakers'", "'Sneaker'", "0...9", "'all'"]),
        (["sample", "--model", "m", "--weights", "best"], ["--weights", "'best'", "'ema' and 'raw'"]),
        (["bench", "kernels", "--only", "exp-row", "softmax"], ["--only", "'softmax'", "- exp-row", "- group-norm"]),
        (train + ["--backend", "mkl"], ["--backend", "'mkl'", "'auto', 'swift' or 'onednn'"]),
        (train + ["--precision", "fp16"], ["--precision", "'fp16'", "'fp32', 'bf16' or 'auto'"]),
    ]

    /// A value outside a flag's set is refused while parsing, with the flag, the value and the
    /// values allowed.
    @Test(arguments: valueCases)
    func badValueIsRefusedWithWhatIsAllowed(arguments: [String], expected: [String]) throws {
        let run = try MPIRun.run([try MPIRun.launcherURL().path] + arguments, timeout: 60)
        #expect(run.status != 0 && run.status < 128, "\(arguments): exit \(run.status)")
        for text in expected { #expect(run.stderr.contains(text), "\(arguments): no \(text) in\n\(run.stderr)") }
    }

    /// DIFFUSION_AVX512 takes 0 or 1; anything else stops the launcher before any work, and 0
    /// shows in `launcher info`.
    @Test func kernelChoiceFromTheEnvironment() throws {
        let launcher = try MPIRun.launcherURL().path
        let bad = try MPIRun.run([launcher, "info"], timeout: 60, environment: ["DIFFUSION_AVX512": "yes"])
        #expect(bad.status == 2, "exit \(bad.status)\n\(bad.stdout)")
        #expect(bad.stderr.contains("DIFFUSION_AVX512=yes: expected 0"), "\(bad.stderr)")
        #expect(!bad.stdout.contains("ranks:"), "info ran: \(bad.stdout)")
        let off = try MPIRun.run([launcher, "info"], timeout: 60, environment: ["DIFFUSION_AVX512": "0"])
        #expect(off.status == 0, "\(off.stderr)")
        #expect(off.stdout.contains("kernels: Swift/AVX2"), "\(off.stdout)")
    }

    /// Limits that depend on the data are checked once it is read, still before training.
    @Test func batchLargerThanTheDataIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try MPIRun.launcher(["train", "--preset", "tiny", "--train-subset", "10", "--batch-size", "24",
                                       "--samples", "0", "--threads", "1", "--out", folder], ranks: 2, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains("--batch-size is 24, more than the 10 training images"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/training_state.safetensors"))
    }

    /// The list and unit flags that changed form work end to end: space-separated lists,
    /// fractional MiB buckets.
    @Test func listAndUnitFlagsWork() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let classifier = try MPIRun.launcher(["train-classifier", "--train-subset", "256", "--test-subset", "64", "--epochs", "1",
                                              "--channels", "8", "16", "--blocks", "1", "1", "--threads", "1", "--out", folder],
                                             ranks: 2, timeout: 300)
        #expect(classifier.status == 0, "\(classifier.stderr)")
        let config = try String(contentsOfFile: folder + "/config.json", encoding: .utf8)
        #expect(config.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\n", with: "").contains("\"channels\":[8,16]"),
                "\(config)")
        let bench = try MPIRun.launcher(["bench", "train", "--preset", "tiny", "--batch", "8", "--steps", "1",
                                         "--bucket-mib", "0.5", "--threads", "1"], ranks: 2, timeout: 300)
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains("in 131072-float buckets"), "\(bench.stdout)")
        let allreduce = try MPIRun.launcher(["bench", "allreduce", "--sizes", "4", "1K", "--repeats", "1"], ranks: 2, timeout: 120)
        #expect(allreduce.status == 0, "\(allreduce.stderr)")
        #expect(allreduce.lines.contains { $0.hasPrefix("        1024  ") }, "\(allreduce.stdout)")
        // --only runs the named benchmark and no other.
        let kernels = try MPIRun.run([try MPIRun.launcherURL().path, "bench", "kernels", "--only", "exp-row", "--repeats", "1"],
                                     timeout: 120)
        #expect(kernels.status == 0, "\(kernels.stderr)")
        #expect(kernels.lines.count == 1 && kernels.lines[0].hasPrefix("expShifted: "), "\(kernels.stdout)")
    }
}
