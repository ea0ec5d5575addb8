import Diffusion
import Foundation
import Testing

/// A three-channel model through the launcher: train on gray Fashion-MNIST replicated into
/// RGB, sample, colour PNGs and samples.npy in [n, 3, H, W]; predict against diffusers on the
/// RGB fixture; and the requests that must be refused with a message.
@Suite(.serialized) struct RGBEndToEndTests {
    static var fixtures: String {
        let file = "\(#filePath)"
        let tests = file[..<file.lastIndex(of: "/")!]
        return String(tests[..<tests.lastIndex(of: "/")!]) + "/Fixtures"
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rgb-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The tiny preset at 32x32 with `in` and `out` channels, written as a config.json.
    func config(in inChannels: Int, out outChannels: Int, directory: String) throws -> String {
        var c = UNetConfig.tiny
        c.sampleSize = 32
        c.inChannels = inChannels
        c.outChannels = outChannels
        let path = directory + "/config-\(inChannels)-\(outChannels).json"
        try c.write(to: path)
        return path
    }

    /// Width, height and colour type from a PNG's IHDR chunk.
    func pngHeader(_ path: String) throws -> (width: Int, height: Int, colorType: UInt8) {
        let bytes = try FileBytes.read(path)
        try #require(bytes.count > 26 && Array(bytes[12..<16]) == Array("IHDR".utf8))
        func be32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20), bytes[25])
    }

    @Test func trainSampleAndColourPictures() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MPIRun.launcher(["train", "--config", try config(in: 3, out: 3, directory: dir), "--train-subset", "32",
                                         "--batch-size", "16", "--max-steps", "2", "--samples", "4", "--sampler", "ddim",
                                         "--threads", "1", "--out", dir + "/run"], ranks: 2, timeout: 600)
        #expect(train.status == 0, "\(train.stderr)")
        let model = try UNetConfig.load(contentsOf: dir + "/run/model/config.json")
        #expect(model.inChannels == 3 && model.outChannels == 3)
        // 4 images, 2 per row, 2-pixel gaps: 2*32 + 3*2 = 70 square.
        let grid = try pngHeader(dir + "/run/samples.png")
        #expect(grid.width == 70 && grid.height == 70 && grid.colorType == 2, "\(grid)")

        let sample = try MPIRun.launcher(["sample", "--model", dir + "/run/model", "--sampler", "ddim", "--steps", "4",
                                          "--n", "5", "--animate", "--threads", "1", "--out", dir + "/s"], ranks: 2, timeout: 600)
        #expect(sample.status == 0, "\(sample.stderr)")
        // 5 images, 3 per row: 3*32 + 4*2 = 104 wide, 2 rows: 2*32 + 3*2 = 70 high, RGB (colour type 2).
        let png = try pngHeader(dir + "/s/samples.png")
        #expect(png.width == 104 && png.height == 70 && png.colorType == 2, "\(png)")
        let npy = try NPY.read(dir + "/s/samples.npy")
        #expect(npy.shape == [5, 3, 32, 32])
        #expect(npy.floats.allSatisfy { $0.isFinite })
        let gif = try FileBytes.read(dir + "/s/samples.gif")
        #expect(Array(gif.prefix(6)) == Array("GIF89a".utf8))
    }

    @Test func predictMatchesDiffusersOnTheRGBFixture() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = Self.fixtures + "/tiny-rgb"
        let run = try MPIRun.launcher(["predict", "--model", fixture, "--input", fixture + "/io.safetensors",
                                       "--output", dir + "/out.safetensors", "--threads", "1"], ranks: 1)
        #expect(run.status == 0, "\(run.stderr)")
        let ours = try Safetensors(contentsOf: dir + "/out.safetensors").tensor(named: "output")
        let theirs = try Safetensors(contentsOf: fixture + "/io.safetensors").tensor(named: "output")
        #expect(ours.shape == [3, 3, 16, 16] && ours.shape == theirs.shape)
        #expect(zip(ours.array, theirs.array).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test func predictRefusesSizesTheModelCannotTake() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Safetensors.write([(name: "sample", tensor: Tensor(shape: [1, 3, 30, 16])),
                               (name: "timestep", tensor: Tensor(shape: [1], values: [5]))], to: dir + "/in.safetensors")
        let run = try MPIRun.launcher(["predict", "--model", Self.fixtures + "/tiny-rgb", "--input", dir + "/in.safetensors",
                                       "--output", dir + "/out.safetensors"], ranks: 1)
        #expect(run.status != 0)
        #expect(run.stderr.contains("height 30 must be a positive multiple of 4 for 3 down blocks"), "\(run.stderr)")
        #expect(run.stderr.contains(": 28 or 32"), "\(run.stderr)")
    }

    @Test func differentInAndOutChannelsAreRefusedForTrainingAndSampling() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MPIRun.launcher(["train", "--config", try config(in: 2, out: 1, directory: dir), "--train-subset", "32",
                                         "--batch-size", "16", "--max-steps", "1", "--samples", "0", "--out", dir + "/run"], ranks: 1)
        #expect(train.status != 0)
        #expect(train.stderr.contains("\"out_channels\": 1 while in_channels is 2"), "\(train.stderr)")

        var c = UNetConfig.tiny
        c.inChannels = 2
        let model = try UNet2DModel(config: c)
        model.initializeParameters(seed: 0)
        try DiffusersFolder.save(model, to: dir + "/model")
        let sample = try MPIRun.launcher(["sample", "--model", dir + "/model", "--n", "2", "--out", dir + "/s"], ranks: 2)
        #expect(sample.status != 0)
        #expect(sample.stderr.contains("\"out_channels\": 1 while in_channels is 2"), "\(sample.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/s/samples.npy"))
    }

    @Test func requestsThatCannotFitInMemoryAreRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // An --n beyond the flag's range is refused before any work, naming the flag...
        let huge = try MPIRun.launcher(["sample", "--model", Self.fixtures + "/tiny-rgb", "--n", "1000000000000",
                                        "--sampler", "ddim", "--steps", "2", "--out", dir + "/s"], ranks: 2)
        #expect(huge.status != 0)
        #expect(huge.stderr.contains("--n must be in"), "\(huge.stderr)")
        // ...and one within it that the memory budget cannot hold is refused by the estimate, on
        // every rank. The budget can be lowered (or raised) for a run: 1 MiB holds neither a
        // sampling batch nor a training step.
        let launcher = try MPIRun.launcherURL().path
        let sample = try MPIRun.run(["env", "\(MemoryBudget.limitVariable)=1", "mpirun", "-np", "2", "--oversubscribe",
                                     launcher, "sample", "--model", Self.fixtures + "/tiny-rgb", "--n", "64",
                                     "--sampler", "ddim", "--steps", "2", "--out", dir + "/s"])
        #expect(sample.status != 0)
        #expect(sample.stderr.contains("sampling 64 images"), "\(sample.stderr)")
        #expect(sample.stderr.contains("\(MemoryBudget.limitVariable)=1"), "\(sample.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/s/samples.npy"))

        let train = try MPIRun.run(["env", "\(MemoryBudget.limitVariable)=1", "mpirun", "-np", "1", launcher, "train",
                                    "--preset", "tiny", "--train-subset", "32", "--batch-size", "16", "--max-steps", "1",
                                    "--samples", "0", "--out", dir + "/run"])
        #expect(train.status != 0)
        #expect(train.stderr.contains("training with batch 16"), "\(train.stderr)")
        #expect(train.stderr.contains("\(MemoryBudget.limitVariable)=1"), "\(train.stderr)")
    }
}
