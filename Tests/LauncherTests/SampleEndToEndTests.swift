import Diffusion
import Foundation
import Testing

/// `launcher sample` on the tiny diffusers fixture (Tests/Fixtures/tiny, 16x16 images).
@Suite(.serialized) struct SampleEndToEndTests {
    static var fixtureModel: String {
        let file = "\(#filePath)"
        let tests = file[..<file.lastIndex(of: "/")!]
        return String(tests[..<tests.lastIndex(of: "/")!]) + "/Fixtures/tiny"
    }

    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sample-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(arguments: [["--sampler", "ddim", "--steps", "8"], ["--sampler", "ddpm", "--skip", "recipe"],
                      ["--sampler", "ddim-recipe", "--skip", "every10"],
                      ["--sampler", "sde-dpmsolver++", "--steps", "6", "--order", "3", "--no-clip"],
                      ["--sampler", "euler-ancestral", "--steps", "5", "--no-clip"]])
    func imagesDoNotDependOnRankCount(_ sampler: [String]) throws {
        let base = temporaryDirectory()
        var images: [[Float]] = []
        for ranks in 1...3 {
            let out = base + "/np\(ranks)"
            let run = try MPIRun.launcher(["sample", "--model", Self.fixtureModel, "--n", "7", "--threads", "1",
                                           "--out", out] + sampler, ranks: ranks, timeout: 600)
            #expect(run.status == 0, "np=\(ranks): \(run.stderr)")
            let array = try NPY.read(out + "/samples.npy")
            #expect(array.shape == [7, 16, 16])
            images.append(array.floats)
            #expect(FileManager.default.fileExists(atPath: out + "/samples.png"))
        }
        // Image i draws from stream (seed, i) wherever it runs; only the batch a GEMM sees
        // differs, which may change float rounding in the last bits.
        let scale = images[0].map { abs($0) }.max() ?? 1
        for ranks in 2...3 {
            let diff = zip(images[0], images[ranks - 1]).map { abs($0 - $1) }.max() ?? 0
            print("\(sampler): np=\(ranks) vs np=1 max difference \(diff) (largest value \(scale))")
            #expect(diff <= 1e-4 * scale)
        }
        #expect(images[0].allSatisfy { $0.isFinite })
    }

    /// Final images are clipped to the data range unless --no-clip: the clipped output is the
    /// raw one clamped to [-0.5, 0.5] (and the random fixture model leaves values outside it).
    @Test func clipsToTheDataRangeUnlessNoClip() throws {
        let base = temporaryDirectory()
        var outputs: [[Float]] = []
        for flags in [[], ["--no-clip"]] {
            let out = base + "/s\(flags.count)"
            let run = try MPIRun.launcher(["sample", "--model", Self.fixtureModel, "--n", "4", "--sampler", "dpmsolver++",
                                           "--steps", "5", "--threads", "1", "--out", out] + flags, ranks: 2)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains(flags.isEmpty ? "clipped to [-0.5, 0.5]" : "not clipped"), "\(run.stdout)")
            outputs.append(try NPY.read(out + "/samples.npy").floats)
        }
        let (clipped, raw) = (outputs[0], outputs[1])
        #expect(raw.contains { abs($0) > 0.5 }, "the raw output never leaves [-0.5, 0.5]: the test would prove nothing")
        #expect(clipped == raw.map { min(max($0, -0.5), 0.5) })
    }

    /// `--precision auto` on 2 ranks: rank 0 alone says what it picked, and the images are
    /// those of that precision named outright (so both ranks ran it). The timing goes to a
    /// cache folder of the test's own (`XDG_CACHE_HOME`), and a second run reads it there.
    @Test func autoPrecisionIsNamedAndAgreed() throws {
        let base = temporaryDirectory()
        let common = ["sample", "--model", Self.fixtureModel, "--n", "4", "--sampler", "ddim", "--steps", "4", "--threads", "1"]
        let cache = ["XDG_CACHE_HOME": base + "/cache"]
        let auto = try MPIRun.launcher(common + ["--precision", "auto", "--out", base + "/auto"], ranks: 2, environment: cache)
        #expect(auto.status == 0, "\(auto.stderr)")
        let notes = auto.stderr.split(separator: "\n").filter { $0.hasPrefix("note: --precision auto: ") }
        #expect(notes.count == 1, "\(auto.stderr)")
        let picked = notes.first?.dropFirst("note: --precision auto: ".count).prefix(4) ?? ""
        #expect(picked == "fp32" || picked == "bf16", "\(auto.stderr)")
        let again = try MPIRun.launcher(common + ["--precision", "auto", "--out", base + "/again"], ranks: 2, environment: cache)
        #expect(again.status == 0, "\(again.stderr)")
        if notes.first?.contains("(measured now in ") == true {
            #expect(again.stderr.contains("(cached in \(base)/cache/fashion-diffusion/precision/auto-precision-"), "\(again.stderr)")
        } else {
            // No bf16 on this machine: nothing timed, nothing cached.
            #expect(notes.first?.contains("(nothing to time)") == true, "\(auto.stderr)")
        }
        let named = try MPIRun.launcher(common + ["--precision", String(picked), "--out", base + "/named"], ranks: 2)
        #expect(named.status == 0, "\(named.stderr)")
        #expect(try NPY.read(base + "/auto/samples.npy").floats == NPY.read(base + "/named/samples.npy").floats)
    }

    @Test func givenNoiseIsUsedAndAnimationWritten() throws {
        let base = temporaryDirectory()
        let noise = Tensor(shape: [3, 1, 16, 16])
        var rng = RandomStream(seed: 3)
        rng.fillNormal(noise.data, count: noise.count)
        try NPY.write(noise, to: base + "/xT.npy")
        var outputs: [[Float]] = []
        for seed in ["1", "2"] {
            let run = try MPIRun.launcher(["sample", "--model", Self.fixtureModel, "--n", "3", "--sampler", "ddim",
                                           "--steps", "5", "--noise", base + "/xT.npy", "--seed", seed, "--animate",
                                           "--out", base + "/s\(seed)"], ranks: 2)
            #expect(run.status == 0, "\(run.stderr)")
            outputs.append(try NPY.read(base + "/s\(seed)/samples.npy").floats)
            #expect(FileManager.default.fileExists(atPath: base + "/s\(seed)/samples.gif"))
        }
        // DDIM with eta 0 from a given x_T is deterministic: the seed no longer matters.
        #expect(outputs[0].count == 3 * 16 * 16)
        #expect(zip(outputs[0], outputs[1]).allSatisfy { $0 == $1 })
    }

    @Test(arguments: [
        (["--sampler", "nonsense"], "nonsense"),
        (["--n", "0"], "--n"),
        (["--sampler", "ddim", "--steps", "5000"], "5000"),
        (["--sampler", "ddim", "--spacing", "cubic"], "cubic"),
    ])
    func badArgumentsFailBeforeWork(_ args: [String], _ mentioned: String) throws {
        let run = try MPIRun.launcher(["sample", "--model", Self.fixtureModel] + args, ranks: 1)
        #expect(run.status != 0)
        #expect((run.stderr + run.stdout).contains(mentioned), "\(run.stderr)")
    }

    @Test func missingModelFolderIsNamed() throws {
        let run = try MPIRun.launcher(["sample", "--model", "/nonexistent/model", "--n", "2"], ranks: 2)
        #expect(run.status != 0)
        #expect(run.stderr.contains("/nonexistent/model"), "\(run.stderr)")
    }
}

/// `launcher predict` on the diffusers fixture reproduces diffusers' output.
@Suite struct PredictEndToEndTests {
    @Test func matchesDiffusersOnTheFixture() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("predict-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let io = SampleEndToEndTests.fixtureModel + "/io.safetensors"
        let run = try MPIRun.run([try MPIRun.launcherURL().path, "predict", "--model", SampleEndToEndTests.fixtureModel,
                                  "--input", io, "--output", dir + "/out.safetensors"])
        #expect(run.status == 0, "\(run.stderr)")
        let mine = try Safetensors(contentsOf: dir + "/out.safetensors").tensor(named: "output")
        let reference = try Safetensors(contentsOf: io).tensor(named: "output")
        #expect(mine.shape == reference.shape)
        let diff = zip(mine.array, reference.array).map { abs($0 - $1) }.max() ?? 1
        print("predict vs diffusers: max difference \(diff)")
        #expect(diff < 1e-4)
    }

    @Test func inputWithoutTimestepIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("predict-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Safetensors.write([(name: "sample", tensor: Tensor(shape: [1, 1, 16, 16]))], to: dir + "/in.safetensors")
        let run = try MPIRun.run([try MPIRun.launcherURL().path, "predict", "--model", SampleEndToEndTests.fixtureModel,
                                  "--input", dir + "/in.safetensors", "--output", dir + "/out.safetensors"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("timestep") && run.stderr.contains("in.safetensors"), "\(run.stderr)")
    }
}
