import Foundation
import Testing
@testable import Diffusion

/// `--data`: folders, arrays and IDX pairs read into the compact cache, the bad-input list,
/// and the preprocessing that makes training samples of them.
@Suite struct TrainingDataTests {
    func load(_ path: String, strict: Bool = false, labels: String? = nil) throws -> TrainingData {
        try TrainingDataLoader.load(DataSpec(path: path, labelsPath: labels, strict: strict), group: SingleProcess())
    }

    func refusal(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    @Test func classFoldersGiveLabelsAndSkipWhatIsNotAnImage() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (k, name) in ["b-dog", "a-cat"].enumerated() {
            for i in 0..<3 { try ImageSets.write(ImageSets.grayPNG(width: 6, height: 6) { x, _ in UInt8(k * 100 + i * 10 + x) }, "\(dir)/\(name)/\(i).png") }
        }
        try ImageSets.write([], "\(dir)/a-cat/empty.png")                          // zero bytes
        try ImageSets.write(Array("not a png".utf8), "\(dir)/b-dog/fake.png")      // not an image
        try ImageSets.write(Array("notes".utf8), "\(dir)/README.txt")              // a non-image file
        try ImageSets.write(Array("x".utf8), "\(dir)/.DS_Store")                  // hidden: ignored
        let data = try load(dir)
        #expect(data.classNames == ["a-cat", "b-dog"])
        #expect(data.labels == [0, 0, 0, 1, 1, 1])
        #expect(data.count == 6 && data.channels == 1)
        #expect(data.image(0)?.pixels.first == 100)  // a-cat/0.png: k = 1 (written second), i = 0, x = 0
        #expect(data.skipped.map(\.path).sorted() == ["\(dir)/a-cat/empty.png", "\(dir)/b-dog/fake.png"])
        #expect(data.nonImageFiles == ["\(dir)/README.txt"])
        #expect(data.summary.contains("skipped 2 unreadable") && data.summary.contains("skipped 1 non-image"))

        // --strict refuses, naming the file.
        #expect(refusal { try load(dir, strict: true) }.contains("README.txt: not an image file"))
        try FileManager.default.removeItem(atPath: "\(dir)/README.txt")
        let strict = refusal { try load(dir, strict: true) }
        #expect(strict.contains("a-cat/empty.png: empty file") && strict.contains("--strict"), "\(strict)")
    }

    @Test func theFoldersThatAreRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let png = ImageSets.grayPNG(width: 4, height: 4) { _, _ in 9 }
        // An empty folder.
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        #expect(refusal { try load(dir + "/empty") }.contains("empty: no images") )
        // A class folder with no images.
        try ImageSets.write(png, dir + "/classes/one/a.png")
        try FileManager.default.createDirectory(atPath: dir + "/classes/two", withIntermediateDirectories: true)
        #expect(refusal { try load(dir + "/classes") }.contains("class folder 'two' holds no images"))
        // A class folder whose only image cannot be decoded.
        try ImageSets.write(Array(png.prefix(20)), dir + "/classes/two/cut.png")
        #expect(refusal { try load(dir + "/classes") }.contains("class folder 'two' has no image that could be decoded"))
        // Images beside class folders.
        try ImageSets.write(png, dir + "/mixed/one/a.png")
        try ImageSets.write(png, dir + "/mixed/loose.png")
        #expect(refusal { try load(dir + "/mixed") }.contains("holds both class subfolders"))
        // Nothing decodable at all.
        try ImageSets.write(Array(png.prefix(30)), dir + "/broken/a.png")
        #expect(refusal { try load(dir + "/broken") }.contains("none of its 1 image file(s) could be decoded"))
        // Not there.
        #expect(refusal { try load(dir + "/missing") }.contains("missing"))
    }

    @Test func aSingleImageTrains() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ImageSets.write(ImageSets.grayPNG(width: 7, height: 5) { x, y in UInt8(x * 30 + y) }, dir + "/one.png")
        let data = try load(dir)
        #expect(data.count == 1 && data.labels == nil)
        var options = TrainingOptions()
        options.batchSize = 4
        options.maxSteps = 2
        let start = TrainingStart.new(options: options, config: TinyTraining.config)
        let prepared = try start.prepare(data, centerCrop: false, randomFlip: true)
        #expect(prepared.source.shape == [1, 4, 5, 1])  // 7x5 -> short side 4: 5 wide (int(4 * 7 / 5)), kept for random crops
        let trainer = try start.makeTrainer(source: prepared.source, initFrom: nil,
                                            bucketFloats: 1 << 20, group: SingleProcess())
        #expect(try trainer.trainStep().loss.isFinite)
    }

    @Test func mixedSizesAreResizedAndCropped() throws {
        var raw = RawImages()
        raw.append(DecodedImage(width: 8, height: 4, channels: 1, pixels: (0..<32).map { UInt8($0 * 8) }))   // landscape
        raw.append(DecodedImage(width: 4, height: 12, channels: 3, pixels: (0..<144).map { UInt8($0) }))    // portrait, RGB
        raw.append(DecodedImage(width: 2, height: 2, channels: 1, pixels: [0, 255, 255, 0]))               // smaller: grown
        let centre = try ImagePreprocess.prepare(raw, settings: PreprocessSettings(size: 4, channels: 1, centerCrop: true))
        #expect(centre.0.shape == [3, 4, 4, 1] && centre.1.isIdentity)
        // The landscape image at 4 rows is itself: its centre 4 columns are columns 2..<6.
        let centreRow: [Float] = (0..<4).map { at(centre.0, [0, 0, $0, 0]) }
        let expectedRow: [Float] = (2..<6).map { Float($0 * 8) / 255 - 0.5 }
        #expect(zip(centreRow, expectedRow).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(centre.0.array.allSatisfy { $0 >= -0.5 && $0 <= 0.5 })
        let random = try ImagePreprocess.prepare(raw, settings: PreprocessSettings(size: 4, channels: 3, centerCrop: false))
        #expect(random.0.shape == [3, 4, 12, 3])
        #expect(random.1.lengths == [8, 12, 4] && random.1.transposed == [false, true, false])
        // Every crop of a batch is one of the image's windows, the same for the same keys.
        let a = random.1.batch(from: random.0, indices: [0, 1, 2], keys: [5, 6, 7], seed: 1)
        let b = random.1.batch(from: random.0, indices: [0, 1, 2], keys: [5, 6, 7], seed: 1)
        #expect(a.shape == [3, 4, 4, 3] && a.array == b.array)
        // The portrait image (4 wide, already 4): a crop keeps its columns, rows offset..<offset+4.
        var rows: [[Float]] = []
        for y in 0..<12 { rows.append((0..<4).map { x in Float((y * 4 + x) * 3) / 255 - 0.5 }) }
        var crop: [[Float]] = []
        for y in 0..<4 { crop.append((0..<4).map { x in at(a, [1, y, x, 0]) }) }
        func close(_ a: [[Float]], _ b: [[Float]]) -> Bool { zip(a.joined(), b.joined()).allSatisfy { abs($0 - $1) < 1e-6 } }
        #expect((0...8).contains { o in close(Array(rows[o..<(o + 4)]), crop) })
    }

    @Test func moreClassesThanTheModelHas() throws {
        var raw = RawImages()
        for _ in 0..<3 { raw.append(DecodedImage(width: 4, height: 4, channels: 1, pixels: [UInt8](repeating: 1, count: 16))) }
        let data = TrainingData(images: raw, labels: [0, 1, 2], classNames: ["a", "b", "c"], source: "folder x")
        var options = TrainingOptions()
        options.conditional = true
        options.classCount = 2
        var config = TinyTraining.config
        config.numClassEmbeds = 3
        let message = refusal { try TrainingStart.new(options: options, config: config).prepare(data, centerCrop: true, randomFlip: false) }
        #expect(message.contains("has 3 classes") && message.contains("num_class_embeds"), "\(message)")
        // And RGB data for a model of 2 input channels.
        var rgb = RawImages()
        rgb.append(DecodedImage(width: 4, height: 4, channels: 3, pixels: [UInt8](repeating: 1, count: 48)))
        #expect(refusal { try ImagePreprocess.prepare(rgb, settings: PreprocessSettings(size: 4, channels: 2)) }.contains("in_channels 2"))
    }

    @Test func arraysOfEveryLayoutAndTheShapesThatDoNotFit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func npy(_ descr: String, _ shape: [Int], _ bytes: [UInt8], _ name: String) throws -> String {
            let path = dir + "/" + name
            try FileBytes.writeAtomically(bytes.withUnsafeBytes { NPY.encode(descr: descr, shape: shape, data: $0) }, to: path)
            return path
        }
        // uint8 [2, 3, 2, 2] NCHW: image 0's channel c at (y, x) is 100 c + 10 y + x.
        var nchw: [UInt8] = []
        for i in 0..<2 { for c in 0..<3 { for y in 0..<2 { for x in 0..<2 { nchw.append(UInt8(i * 50 + c * 10 + y * 2 + x)) } } } }
        let data = try load(try npy("|u1", [2, 3, 2, 2], nchw, "nchw.npy"))
        #expect(data.count == 2 && data.channels == 3)
        #expect(data.image(0)?.pixels.prefix(6) == [0, 10, 20, 1, 11, 21])
        // float32 in [0, 1], inferred and noted; labels from a .npy of int64.
        let floats: [Float] = [0, 0.5, 1, 0.25]
        let f = try npy("<f4", [1, 2, 2], floats.withUnsafeBytes { Array($0) }, "f.npy")
        let labels: [Int64] = [3]
        let l = try npy("<i8", [1], labels.withUnsafeBytes { Array($0) }, "l.npy")
        let fd = try load(f, labels: l)
        #expect(fd.image(0)?.pixels == [0, 128, 255, 64] && fd.labels == [3] && fd.classNames?.count == 4)
        #expect(fd.notes.contains { $0.contains("[0.0, 1.0]") })
        // Shapes that do not fit.
        #expect(refusal { try load(try npy("|u1", [2, 5, 5, 5], [UInt8](repeating: 0, count: 250), "c5.npy")) }.contains("no axis of 1, 3 or 4 channels"))
        #expect(refusal { try load(try npy("|u1", [4, 4], [UInt8](repeating: 0, count: 16), "r2.npy")) }.contains("has 2 dimensions"))
        #expect(refusal { try load(f, labels: try npy("<i8", [2], [UInt8](repeating: 0, count: 16), "l2.npy")) }.contains("expected [1]"))
        let wide: [Float] = [0, 300, 2, 4]
        #expect(refusal { try load(try npy("<f4", [1, 2, 2], wide.withUnsafeBytes { Array($0) }, "w.npy")) }.contains("--value-range"))
    }

    @Test func anIDXPairOfAnyMNISTFormatSet() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pixels = (0..<(3 * 5 * 4)).map { UInt8($0) }
        try FileBytes.writeAtomically(IDX.encode(magic: IDX.imagesMagic, dimensions: [3, 5, 4], values: pixels), to: dir + "/set-images-idx3-ubyte")
        try FileBytes.writeAtomically(IDX.encode(magic: IDX.labelsMagic, dimensions: [3], values: [2, 0, 1]), to: dir + "/set-labels-idx1-ubyte")
        let data = try load(dir + "/set-images-idx3-ubyte")
        #expect(data.count == 3 && data.images.widths == [4, 4, 4] && data.images.heights == [5, 5, 5])
        #expect(data.labels == [2, 0, 1] && data.classNames == ["0", "1", "2"])
        try FileBytes.writeAtomically(IDX.encode(magic: IDX.labelsMagic, dimensions: [2], values: [2, 0]), to: dir + "/two-labels")
        #expect(refusal { try load(dir + "/set-images-idx3-ubyte", labels: dir + "/two-labels") }.contains("holds 3 images but"))
    }
}

/// The element of NHWC `t` at [n, y, x, c].
func at(_ t: Tensor, _ index: [Int]) -> Float {
    t[((index[0] * t.shape[1] + index[1]) * t.shape[2] + index[2]) * t.shape[3] + index[3]]
}

extension TrainingData {
    func image(_ i: Int) -> DecodedImage? { i < count ? images.image(i) : nil }
}
