import Foundation
import Testing
@testable import Diffusion

/// Models with other than one channel, end to end in the library: colour grids and GIFs,
/// samples.npy in PyTorch's layout, x_T read in diffusers' layout, gray data replicated into
/// an RGB model's channels, and models whose in_channels and out_channels differ refused for
/// training and sampling but run by predict.
@Suite struct MultiChannelTests {
    static var rgbFixture: String { PackageFixtures.path("tiny-rgb") }

    /// NHWC images [n, h, w, c] with value f(image, y, x, channel).
    func images(_ n: Int, _ h: Int, _ w: Int, _ c: Int, _ f: (Int, Int, Int, Int) -> Float) -> Tensor {
        let t = Tensor(shape: [n, h, w, c])
        for i in 0..<n { for y in 0..<h { for x in 0..<w { for k in 0..<c {
            t[((i * h + y) * w + x) * c + k] = f(i, y, x, k)
        } } } }
        return t
    }

    @Test func threeChannelsMakeAnRGBGridPNGAndAnNCHWArray() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Image 0 red, image 1 green, image 2 a blue-to-white gradient along x.
        let rgb = images(3, 2, 4, 3) { i, _, x, k in
            i == 2 ? (k == 2 ? 0.5 : Float(x) / 3 - 0.5) : (k == i ? 0.5 : -0.5)
        }
        let grid = ImageGrid.make(images: rgb, gap: 1)
        #expect(grid.colorType == .rgb)
        // ceil(sqrt(3)) = 2 columns, 2 rows: 2*4 + 3 = 11 wide, 2*2 + 3 = 7 high.
        #expect(grid.width == 11 && grid.height == 7 && grid.pixels.count == 11 * 7 * 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(grid.pixels[(y * 11 + x) * 3..<(y * 11 + x) * 3 + 3]) }
        #expect(pixel(1, 1) == [255, 0, 0])
        #expect(pixel(6, 2) == [0, 255, 0])
        #expect(pixel(1, 4) == [0, 0, 255] && pixel(4, 4) == [255, 255, 255] && pixel(2, 4) == [85, 85, 255])
        #expect(pixel(0, 0) == [255, 255, 255])  // background

        try SampleFiles.write(images: rgb, to: dir)
        let png = try #require(try Python.json("check_formats.py", ["png", dir + "/samples.png"]) as? [String: Any])
        #expect(ints(png["color_type"].map { [$0] }) == [2])
        #expect(ints(png["pixels"]) == ImageGrid.make(images: rgb).pixels.map(Int.init))
        let npy = try NPY.read(dir + "/samples.npy")
        #expect(npy.shape == [3, 3, 2, 4])
        #expect(npy.floats == Layout.nhwcToNCHW(rgb).array)
        #expect(npy.floats[0..<8].allSatisfy { $0 == 0.5 } && npy.floats[8..<16].allSatisfy { $0 == -0.5 })
    }

    @Test func oneChannelKeepsItsGrayPNGAndNHWArray() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gray = images(2, 3, 3, 1) { i, y, x, _ in Float(i * 9 + y * 3 + x) / 20 - 0.5 }
        try SampleFiles.write(images: gray, to: dir)
        let png = try #require(try Python.json("check_formats.py", ["png", dir + "/samples.png"]) as? [String: Any])
        #expect(ints(png["color_type"].map { [$0] }) == [0])
        let npy = try NPY.read(dir + "/samples.npy")
        #expect(npy.shape == [2, 3, 3] && npy.floats == gray.array)
    }

    /// Neither gray nor RGB: each image is its C channels as gray tiles side by side.
    @Test func otherChannelCountsBecomeGrayTiles() {
        let two = images(3, 1, 1, 2) { i, _, _, k in k == 0 ? -0.5 : Float(i) * 0.5 - 0.5 }
        let grid = ImageGrid.make(images: two, gap: 0)
        #expect(grid.colorType == .grayscale)
        // 2 images per row, each 2 tiles: 4 wide, 2 high; image i's tiles are channel 0 (black), channel 1.
        #expect(grid.width == 4 && grid.height == 2)
        #expect(grid.pixels == [0, 0, 0, 128, 0, 255, 255, 255])
        let four = ImageGrid.make(images: images(5, 2, 2, 4) { _, _, _, _ in 0 }, gap: 1)
        // 3 images per row -> 12 tiles of 2: 12*2 + 13 = 37 wide, 2 rows: 2*2 + 3 = 7 high.
        #expect(four.width == 37 && four.height == 7)
    }

    @Test func noiseIsReadInDiffusersLayout() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nchw = Tensor(shape: [2, 3, 4, 4], values: (0..<96).map { Float($0) / 96 })
        try NPY.write(nchw, to: dir + "/xT.npy")
        let x = try SampleFiles.readNoise(dir + "/xT.npy", count: 2, size: 4, channels: 3)
        #expect(x.shape == [2, 4, 4, 3] && x.array == Layout.nchwToNHWC(nchw).array)
        let wrong = #expect(throws: FileError.self) { try SampleFiles.readNoise(dir + "/xT.npy", count: 2, size: 4, channels: 1) }
        #expect(wrong?.message.contains("[2, 1, 4, 4]") == true, "\(String(describing: wrong))")
        try NPY.write(Tensor(shape: [2, 4, 4]), to: dir + "/gray.npy")
        #expect(try SampleFiles.readNoise(dir + "/gray.npy", count: 2, size: 4, channels: 1).shape == [2, 4, 4, 1])
        #expect(throws: FileError.self) { try SampleFiles.readNoise(dir + "/gray.npy", count: 2, size: 4, channels: 3) }
    }

    @Test func rgbAnimationIsAColourGIF() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let animation = SampleAnimation(count: 4, totalSteps: 2, frames: 2)
        // Four 1x1 images: red, green, blue, a mid colour that rounds to the cube's levels.
        let colours: [[Float]] = [[0.5, -0.5, -0.5], [-0.5, 0.5, -0.5], [-0.5, -0.5, 0.5], [0, 0.1, -0.2]]
        let x0 = images(4, 1, 1, 3) { i, _, _, k in colours[i][k] }
        animation.record(step: 0, totalSteps: 2, x0: x0)
        animation.record(step: 1, totalSteps: 2, x0: x0)
        try animation.write(to: dir + "/a.gif")
        let gif = try #require((try Python.json("check_formats.py", ["gif", dir + "/a.gif"]) as? [[String: Any]])?.first)
        let frames = try #require(gif["frames"] as? [[String: Any]])
        #expect(frames.count == 2)
        let rgb = ints(frames.first?["rgb"])
        // 2x2 grid with gap 2: 8x8 pixels; the images sit at (2,2), (5,2), (2,5), (5,5).
        #expect(ints(gif["width"].map { [$0] }) == [8] && rgb.count == 8 * 8 * 3)
        func pixel(_ x: Int, _ y: Int) -> [Int] { Array(rgb[(y * 8 + x) * 3..<(y * 8 + x) * 3 + 3]) }
        #expect(pixel(2, 2) == [255, 0, 0] && pixel(5, 2) == [0, 255, 0] && pixel(2, 5) == [0, 0, 255])
        // 128, 153, 77 -> levels round(128*7/255)=4, round(153*7/255)=4, round(77*3/255)=1 -> 146, 146, 85
        #expect(pixel(5, 5) == [146, 146, 85])
        #expect(pixel(0, 0) == [255, 255, 255])
    }

    @Test func grayDataIsReplicatedIntoEveryInputChannel() throws {
        BLAS.configure(threads: 1)
        let gray = images(6, 16, 16, 1) { i, y, x, _ in Float((i * 31 + y * 7 + x * 3) % 17) / 17 - 0.5 }
        let replicated = Preprocess.replicatingChannels(gray, to: 3)
        #expect(replicated.shape == [6, 16, 16, 3])
        #expect((0..<gray.count).allSatisfy { p in (0..<3).allSatisfy { replicated[p * 3 + $0] == gray[p] } })

        // Training an RGB model on gray data is training it on the replicated RGB images.
        var options = TrainingOptions()
        options.batchSize = 3
        var results: [[Float]] = []
        for data in [gray, replicated] {
            let model = try DiffusersFolder.load(from: Self.rgbFixture)
            let trainer = try Trainer(model: model, images: data, options: options, group: SingleProcess())
            let loss = try trainer.trainStep().loss
            #expect(loss.isFinite && loss > 0)
            _ = try trainer.trainStep()
            results.append(model.store.valueArray)
        }
        #expect(results[0] == results[1])
        let fresh = try DiffusersFolder.load(from: Self.rgbFixture).store.valueArray
        #expect(results[0] != fresh)
    }

    @Test func rgbSamplingGivesColourImages() throws {
        BLAS.configure(threads: 1)
        let model = try DiffusersFolder.load(from: Self.rgbFixture)
        let result = try ShardedSampling.generate(model: model, spec: try SamplerSpec.parse(.ddim, steps: 3), schedule: .recipe,
                                                  count: 2, seed: 4, group: SingleProcess())
        let images = try #require(result.images)
        #expect(images.shape == [2, 16, 16, 3])
        #expect(images.array.allSatisfy { $0.isFinite })
        // Not three copies of one gray image.
        #expect((0..<(images.count / 3)).contains { images[$0 * 3] != images[$0 * 3 + 1] })
    }

    /// diffusers accepts in_channels != out_channels; such a model is no denoiser of its own
    /// input, so training and sampling refuse it by both names, while predict runs it.
    @Test func differentInAndOutChannelsRunOnlyInPredict() throws {
        BLAS.configure(threads: 1)
        var config = UNetConfig.tiny
        config.inChannels = 2
        config.outChannels = 1
        let model = try UNet2DModel(config: config)
        model.initializeParameters(seed: 3)
        func refusal(_ body: () throws -> Void) {
            let error = #expect(throws: ConfigError.self) { try body() }
            #expect(error?.key == "out_channels")
            #expect(error?.description.contains("\"out_channels\": 1 while in_channels is 2") == true, "\(String(describing: error))")
        }
        refusal { _ = try Trainer(model: model, images: Tensor(shape: [4, 16, 16, 1]), options: TrainingOptions(), group: SingleProcess()) }
        refusal {
            _ = try ShardedSampling.generate(model: model, spec: try SamplerSpec.parse(.ddim, steps: 2), schedule: .recipe,
                                             count: 2, seed: 0, group: SingleProcess())
        }

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sample = images(2, 16, 8, 2) { i, y, x, k in Float(i + y - x + k) / 20 }
        try Safetensors.write([(name: "sample", tensor: Layout.nhwcToNCHW(sample)),
                               (name: "timestep", tensor: Tensor(shape: [2], values: [10, 700]))], to: dir + "/in.safetensors")
        try Prediction.run(model: model, inputPath: dir + "/in.safetensors", outputPath: dir + "/out.safetensors")
        let out = try Safetensors(contentsOf: dir + "/out.safetensors").tensor(named: "output")
        #expect(out.shape == [2, 1, 16, 8])
        #expect(out.array == Layout.nhwcToNCHW(try model.forward(sample, timesteps: [10, 700])).array)
    }
}
