import Diffusion
import Foundation
import Testing

/// The real training split, loaded once for all tests that need it.
let trainSet = Result { try FashionMNIST.load(split: .train) }

@Suite struct FashionMNISTTests {
    @Test func trainSplitHasKnownContents() throws {
        let train = try trainSet.get()
        #expect(train.count == 60_000)
        #expect(train.shape == [60_000, 28, 28])
        #expect(train.labels.count == 60_000)
        #expect(Array(train.labels.prefix(10)) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        #expect(train.className(0) == "Ankle boot")
        // Reference values computed once with Python's gzip module, independently of zlib
        // bindings here:
        //   im = gzip.open('train-images-idx3-ubyte.gz').read()
        //   sum(im[16 + i*784 : 16 + (i+1)*784]) for i in (0, 1, 59999); sum(im[16:])
        #expect(train.image(0).reduce(0) { $0 + Int($1) } == 76_247)
        #expect(train.image(1).reduce(0) { $0 + Int($1) } == 84_598)
        #expect(train.image(59_999).reduce(0) { $0 + Int($1) } == 16_684)
        #expect(train.images.reduce(0) { $0 + Int($1) } == 3_431_114_169)
        // Balanced classes: 6,000 of each.
        var histogram = [Int](repeating: 0, count: 10)
        for l in train.labels { histogram[Int(l)] += 1 }
        #expect(histogram == [Int](repeating: 6000, count: 10))
    }

    @Test func testSplitHasKnownContents() throws {
        let test = try FashionMNIST.load(split: .test)
        #expect(test.count == 10_000)
        #expect(Array(test.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        // Python gzip, as above, on the t10k files.
        #expect(test.image(0).reduce(0) { $0 + Int($1) } == 33_456)
        #expect(test.image(9_999).reduce(0) { $0 + Int($1) } == 24_390)
    }

    @Test func classNames() {
        #expect(FashionMNIST.classNames == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
    }
}

/// Damaged copies of the test split in a temporary directory: every one must fail with
/// its own error, naming the damaged file.
@Suite struct FashionMNISTErrorTests {
    /// The decompressed real test files (IDX bytes), read once.
    static let originals = Result { () throws -> (images: [UInt8], labels: [UInt8]) in
        let images = try Zlib.decompress(FileBytes.read(FashionMNIST.imagesPath(split: .test)), container: .gzip, name: "images")
        let labels = try Zlib.decompress(FileBytes.read(FashionMNIST.labelsPath(split: .test)), container: .gzip, name: "labels")
        return (images, labels)
    }

    /// Writes a copy of the test split with the given IDX bytes (gzip-compressed unless
    /// raw .gz bytes are given) and loads it.
    func load(images: [UInt8]? = nil, labels: [UInt8]? = nil,
              rawImagesGz: [UInt8]? = nil, rawLabelsGz: [UInt8]? = nil) throws -> (Result<Dataset, Error>, String, String) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (origImages, origLabels) = try Self.originals.get()
        let imagesPath = FashionMNIST.imagesPath(split: .test, directory: dir)
        let labelsPath = FashionMNIST.labelsPath(split: .test, directory: dir)
        try FileBytes.writeAtomically(rawImagesGz ?? Zlib.compress(images ?? origImages, container: .gzip, level: 1), to: imagesPath)
        try FileBytes.writeAtomically(rawLabelsGz ?? Zlib.compress(labels ?? origLabels, container: .gzip, level: 1), to: labelsPath)
        return (Result { try FashionMNIST.load(split: .test, directory: dir) }, imagesPath, labelsPath)
    }

    func error(_ result: Result<Dataset, Error>) -> DataError? {
        if case .failure(let e) = result { return e as? DataError }
        return nil
    }

    func setUInt32(_ bytes: inout [UInt8], at i: Int, _ v: UInt32) {
        bytes[i] = UInt8(v >> 24); bytes[i + 1] = UInt8(v >> 16 & 0xff); bytes[i + 2] = UInt8(v >> 8 & 0xff); bytes[i + 3] = UInt8(v & 0xff)
    }

    @Test func intactCopyLoads() throws {
        let (result, _, _) = try load()
        #expect(try result.get().count == 10_000)
    }

    @Test func truncatedGzipFile() throws {
        let gz = try FileBytes.read(FashionMNIST.imagesPath(split: .test))
        let (result, imagesPath, _) = try load(rawImagesGz: Array(gz.prefix(gz.count / 2)))
        let e = try #require(error(result))
        guard case let .truncated(path, expected, found) = e else { Issue.record("got \(e)"); return }
        #expect(path == imagesPath)
        #expect(expected == 16 + 10_000 * 784)
        #expect(found < expected && found > 0)
        #expect(e.description.contains(imagesPath) && e.description.contains("\(expected)") && e.description.contains("\(found)"))
    }

    @Test func gzipFileCutBeforeItsTrailer() throws {
        let gz = try FileBytes.read(FashionMNIST.labelsPath(split: .test))
        let (result, _, labelsPath) = try load(rawLabelsGz: Array(gz.dropLast(4)))
        let e = try #require(error(result))
        guard case let .corruptedGzip(path, _) = e else { Issue.record("got \(e)"); return }
        #expect(path == labelsPath)
        #expect(e.description.contains(labelsPath))
    }

    @Test func truncatedPayload() throws {
        let (images, _) = try Self.originals.get()
        let (result, imagesPath, _) = try load(images: Array(images.dropLast(100)))
        #expect(error(result) == .truncated(path: imagesPath, expectedBytes: 7_840_016, foundBytes: 7_839_916))
    }

    @Test func trailingBytes() throws {
        let (_, labels) = try Self.originals.get()
        let (result, _, labelsPath) = try load(labels: labels + [1, 2, 3])
        #expect(error(result) == .trailingBytes(path: labelsPath, expectedBytes: 10_008, foundBytes: 10_011))
    }

    @Test func wrongMagic() throws {
        var (images, _) = try Self.originals.get()
        setUInt32(&images, at: 0, 2049)
        let (result, imagesPath, _) = try load(images: images)
        let e = try #require(error(result))
        #expect(e == .badMagic(path: imagesPath, expected: 2051, found: 2049))
        #expect(e.description.contains(imagesPath) && e.description.contains("2051") && e.description.contains("2049"))
    }

    @Test func wrongCount() throws {
        var (_, labels) = try Self.originals.get()
        setUInt32(&labels, at: 4, 9_999)
        labels.removeLast()
        let (result, _, labelsPath) = try load(labels: labels)
        let e = try #require(error(result))
        #expect(e == .badCount(path: labelsPath, expected: 10_000, found: 9_999))
        #expect(e.description.contains(labelsPath) && e.description.contains("10000") && e.description.contains("9999"))
    }

    @Test func imagesAndLabelsDisagree() throws {
        // Only reachable without an expected count (the split's count is checked first).
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var (images, labels) = try Self.originals.get()
        setUInt32(&images, at: 4, 9_998)
        images.removeLast(2 * 784)
        setUInt32(&labels, at: 4, 9_999)
        labels.removeLast()
        let imagesPath = dir + "/images.gz", labelsPath = dir + "/labels.gz"
        try FileBytes.writeAtomically(Zlib.compress(images, container: .gzip, level: 1), to: imagesPath)
        try FileBytes.writeAtomically(Zlib.compress(labels, container: .gzip, level: 1), to: labelsPath)
        let e = #expect(throws: DataError.self) {
            try FashionMNIST.load(imagesPath: imagesPath, labelsPath: labelsPath, expectedCount: nil)
        }
        #expect(e == .countMismatch(imagesPath: imagesPath, images: 9_998, labelsPath: labelsPath, labels: 9_999))
        #expect(e?.description.contains(imagesPath) == true && e?.description.contains(labelsPath) == true)
    }

    @Test func wrongImageSize() throws {
        var (images, _) = try Self.originals.get()
        setUInt32(&images, at: 8, 27)
        setUInt32(&images, at: 12, 27)
        images.removeLast(10_000 * (784 - 27 * 27))
        let (result, imagesPath, _) = try load(images: images)
        let e = try #require(error(result))
        #expect(e == .badImageSize(path: imagesPath, expectedRows: 28, expectedColumns: 28, foundRows: 27, foundColumns: 27))
        #expect(e.description.contains(imagesPath) && e.description.contains("28x28") && e.description.contains("27x27"))
    }

    @Test func labelOutOfRange() throws {
        var (_, labels) = try Self.originals.get()
        labels[8 + 17] = 10
        let (result, _, labelsPath) = try load(labels: labels)
        let e = try #require(error(result))
        #expect(e == .labelOutOfRange(path: labelsPath, index: 17, value: 10, validRange: 0...9))
        #expect(e.description.contains(labelsPath) && e.description.contains("17") && e.description.contains("0...9"))
    }

    @Test func corruptedGzip() throws {
        var gz = try FileBytes.read(FashionMNIST.imagesPath(split: .test))
        // Damage the deflate data in the middle: a bad code or, failing that, a CRC mismatch.
        for i in stride(from: gz.count / 2, to: gz.count / 2 + 64, by: 1) { gz[i] ^= 0x5a }
        let (result, imagesPath, _) = try load(rawImagesGz: gz)
        let e = try #require(error(result))
        guard case let .corruptedGzip(path, reason) = e else { Issue.record("got \(e)"); return }
        #expect(path == imagesPath)
        #expect(!reason.isEmpty)
        #expect(e.description.contains(imagesPath))
    }

    @Test func notGzipAtAll() throws {
        let (images, _) = try Self.originals.get()
        let (result, imagesPath, _) = try load(rawImagesGz: images)  // uncompressed bytes under a .gz name
        let e = try #require(error(result))
        guard case .corruptedGzip(imagesPath, _) = e else { Issue.record("got \(e)"); return }
    }

    @Test func missingFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = #expect(throws: DataError.self) { try FashionMNIST.load(split: .train, directory: dir) }
        guard case let .cannotRead(path, _)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(path == FashionMNIST.imagesPath(split: .train, directory: dir))
        #expect(e?.description.contains(dir) == true)
    }
}
