import Foundation
import Testing
@testable import Diffusion

/// The on-disk decoded cache of image folders (`--data-cache`): written once, reused bit for
/// bit, rebuilt with a note when it is corrupt or the folder changed, and written by one of
/// several ranks that share its folder.
@Suite struct DecodedCacheTests {
    /// 6 gray class images, one RGBA (alpha dropped), one truncated PNG (skipped).
    func folder(_ dir: String) throws -> String {
        let root = dir + "/images"
        for (k, name) in ["cat", "dog"].enumerated() {
            for i in 0..<3 {
                try ImageSets.write(ImageSets.grayPNG(width: 5 + i, height: 4 + k) { x, y in UInt8(k * 90 + i * 20 + x * 3 + y) }, "\(root)/\(name)/\(i).png")
            }
        }
        try ImageSets.write(CraftedPNG.encode(width: 3, height: 3, bitDepth: 8, colorType: 6, samples: (0..<36).map { $0 * 7 % 256 }), root + "/dog/rgba.png")
        try ImageSets.write(Array(ImageSets.grayPNG(width: 4, height: 4) { _, _ in 1 }.prefix(30)), root + "/cat/cut.png")
        return root
    }

    func load(_ root: String, cache: String?, group: Collectives = SingleProcess()) throws -> TrainingData {
        try TrainingDataLoader.load(DataSpec(path: root, cacheDirectory: cache), group: group)
    }

    func cacheFiles(_ cache: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cache).sorted()
    }

    func expectSame(_ a: TrainingData, _ b: TrainingData) {
        #expect(a.images == b.images && a.labels == b.labels && a.classNames == b.classNames)
        #expect(a.skipped == b.skipped && a.contentHash == b.contentHash)
        #expect(a.notes.filter { $0.contains("alpha") } == b.notes.filter { $0.contains("alpha") })
    }

    @Test func writtenOnceThenMappedBitForBit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        let plain = try load(root, cache: nil)
        #expect(plain.images.mappedPath == nil && !FileManager.default.fileExists(atPath: cache))
        let first = try load(root, cache: cache)
        let files = try cacheFiles(cache)
        #expect(files.count == 1 && files[0].hasPrefix("folder-") && files[0].hasSuffix(".decoded"), "\(files)")
        #expect(first.notes.contains { $0.hasPrefix("decoded images cached in \(cache)/folder-") }, "\(first.notes)")
        #expect(first.images.mappedPath == cache + "/" + files[0], "mapped as it is written, named by its final path")
        let second = try load(root, cache: cache)
        #expect(second.notes.contains { $0.hasPrefix("decoded images from the cache") }, "\(second.notes)")
        #expect(second.images.mappedPath == cache + "/" + files[0])
        expectSame(plain, first)
        expectSame(plain, second)
        #expect(second.skipped.map(\.path) == [root + "/cat/cut.png"])
        #expect(second.notes.contains("1 image(s) had an alpha channel: dropped (not composited)"))
    }

    @Test func aChangedFolderGetsANewCache() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        _ = try load(root, cache: cache)
        // Same size, new content and modification time: a new key.
        try ImageSets.write(ImageSets.grayPNG(width: 5, height: 4) { x, y in UInt8(200 - x - y) }, root + "/cat/0.png")
        let changed = try load(root, cache: cache)
        #expect(try cacheFiles(cache).count == 2)
        #expect(changed.notes.contains { $0.hasPrefix("decoded images cached in") })
        expectSame(changed, try load(root, cache: nil))
    }

    /// Each corruption is caught on load, named in a note, and the cache rebuilt.
    @Test(arguments: ["pixel", "truncated", "header", "empty"])
    func aCorruptCacheIsRebuiltWithANote(_ damage: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        let plain = try load(root, cache: cache)
        let path = cache + "/" + (try cacheFiles(cache))[0]
        var bytes = try FileBytes.read(path)
        let good = bytes
        switch damage {
        case "pixel": bytes[9] ^= 0x40
        case "truncated": bytes.removeLast(5)
        case "header": bytes[bytes.count - 40] ^= 0x01
        default: bytes = []
        }
        try FileBytes.writeAtomically(bytes, to: path)
        let expected = ["pixel": "pixel hash", "truncated": "the last 8 bytes are not \"FDDC-END\"", "header": "header hash",
                        "empty": "0 bytes, shorter than"][damage]!
        let reloaded = try load(root, cache: cache)
        let note = reloaded.notes.first { $0.hasPrefix("the decoded cache is unusable") } ?? ""
        #expect(note.contains(path + ": decoded cache: " + expected), "\(reloaded.notes)")
        #expect(reloaded.notes.contains { $0.hasPrefix("decoded images cached in") })
        expectSame(plain, reloaded)
        #expect(try FileBytes.read(path) == good, "rebuilt as it was")
    }

    @Test func aCacheOfAnotherListingIsRefusedByField() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        _ = try load(root, cache: cache)
        let path = cache + "/" + (try cacheFiles(cache))[0]
        let listing = try ImageFolderListing.scan(root)
        let key = try DecodedCache.key(for: listing, maxPixels: ImageLimits.defaultMaxPixels)
        #expect(path.hasSuffix("folder-\(key).decoded"))
        _ = try DecodedCache.read(path, key: key, fileCount: listing.files.count)
        let wrongCount = #expect(throws: FileError.self) { try DecodedCache.read(path, key: key, fileCount: 99) }
        #expect(wrongCount?.description == "\(path): decoded cache: fileCount 8, expected 99 files in the listing")
        let wrongKey = #expect(throws: FileError.self) { try DecodedCache.read(path, key: "0123456789abcdef", fileCount: 8) }
        #expect(wrongKey?.description.contains("key \(key), expected 0123456789abcdef") == true)
        // Another pixel limit is another key (what is skipped may differ).
        #expect(try DecodedCache.key(for: listing, maxPixels: 20) != key)
    }

    /// 150 files are three blocks of decoding (64, 64, 22): at 2 and 4 ranks (one with no block)
    /// the set is the one a single process decodes, with or without the cache.
    @Test func blocksDealtOverTheRanksGiveTheSameSet() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = dir + "/many"
        for i in 0..<150 {
            try ImageSets.write(ImageSets.grayPNG(width: 3 + i % 4, height: 3) { x, y in UInt8((i * 7 + x + y) % 256) },
                                root + String(format: "/%03d.png", i))
        }
        try ImageSets.write(Array("not a png".utf8), root + "/070.png")
        let plain = try load(root, cache: nil)
        #expect(plain.count == 149 && plain.skipped.map(\.path) == [root + "/070.png"])
        for ranks in [2, 4] {
            for cache in [nil, dir + "/cache\(ranks)"] {
                let sets = try ThreadGroup.run(size: ranks) { group in try load(root, cache: cache, group: group) }
                for data in sets { expectSame(plain, data) }
            }
        }
    }

    @Test func anUnwritableCacheFolderLeavesTheImagesInMemory() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir)
        try ImageSets.write(Array("a file where the folder should be".utf8), dir + "/cache")
        let data = try load(root, cache: dir + "/cache")
        #expect(data.images.mappedPath == nil)
        // The folder that could not be made and the system's reason, not Foundation's error dump.
        #expect(data.notes.contains("decoded cache not written (the images stay in memory): \(dir)/cache: cannot create the folder (File exists)"),
                "\(data.notes)")
        expectSame(data, try load(root, cache: nil))
    }

    @Test func aHalfWrittenCacheIsNeverUsed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        let listing = try ImageFolderListing.scan(root)
        let key = try DecodedCache.key(for: listing, maxPixels: ImageLimits.defaultMaxPixels)
        // A writer dropped before finishing (an error, a crash) leaves nothing under the real name.
        do {
            let writer = try DecodedCache.Writer(path: cache + "/folder-\(key).decoded", key: key, fileCount: listing.files.count)
            writer.append(DecodedImage(width: 1, height: 1, channels: 1, pixels: [3]), file: 0)
        }
        #expect(try cacheFiles(cache).isEmpty)
        // A crash leaves its temporary file: never read as the cache.
        try ImageSets.write(Array("FDDCACHE half".utf8), cache + "/.folder-\(key).decoded.tmp-1-2")
        let data = try load(root, cache: cache)
        #expect(data.notes.contains { $0.hasPrefix("decoded images cached in") } && !data.notes.contains { $0.contains("unusable") })
        #expect(try cacheFiles(cache) == [".folder-\(key).decoded.tmp-1-2", "folder-\(key).decoded"])
    }

    /// Three ranks sharing the cache folder: one writes, the others map its file; no probe
    /// or temporary file is left; then every rank reuses it.
    @Test func ranksSharingTheFolderWriteItOnce() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try folder(dir), cache = dir + "/cache"
        let plain = try load(root, cache: nil)
        let first = try ThreadGroup.run(size: 3) { group in try load(root, cache: cache, group: group) }
        let files = try cacheFiles(cache)
        #expect(files.count == 1, "\(files)")
        #expect(first[0].notes.contains { $0.hasPrefix("decoded images cached in") && !$0.contains("another rank") })
        for r in 1...2 { #expect(first[r].notes.contains { $0.hasSuffix("(written by another rank)") }, "\(first[r].notes)") }
        let second = try ThreadGroup.run(size: 3) { group in try load(root, cache: cache, group: group) }
        for data in first + second {
            expectSame(plain, data)
            #expect(data.images.mappedPath != nil)
        }
        #expect(second.allSatisfy { $0.notes.contains { $0.hasPrefix("decoded images from the cache") } })
    }
}
