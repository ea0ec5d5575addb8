import Foundation

/// The on-disk cache of an image folder's decoded images (`--data-cache`), so a folder is
/// decoded once: later runs, and every rank on the host, map the file instead.
///
/// One file per folder state, `folder-<key>.decoded`, the key hashing the format version,
/// the decoder's pixel limit and every candidate file's path below the folder, size and
/// modification time: a changed, added or removed file gives a new key (and a new file).
/// The images are stored as decoded (8-bit, each at its own size), before any resizing, so
/// one cache serves every sample_size, crop and channel choice, and training from it is bit
/// for bit training from the decoded files.
///
/// Layout: "FDDCACHE" | pixels | header (JSON) | header length (UInt64 LE) | header hash
/// (16 hex digits) | "FDDC-END". The header holds the sizes, which listing entry each image
/// came from, the skipped files and the pixels' content hash; all of it is checked on load
/// (`read`). Files are written to a temporary name and renamed, so a crash never leaves a
/// half cache under the real name.
public struct DecodedCache: Sendable {
    public static let formatVersion = 1
    static let startMagic = Array("FDDCACHE".utf8), endMagic = Array("FDDC-END".utf8)
    /// Length, hash and end magic after the header.
    static let trailerSize = 8 + 16 + 8

    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The default folder: $XDG_CACHE_HOME/fashion-diffusion/data (~/.cache/...).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        UserCache.directory(environment: environment) + "/data"
    }

    /// What the header records.
    struct Header: Codable, Equatable {
        var version: Int
        var key: String
        /// Candidate files in the listing (decoded and skipped).
        var fileCount: Int
        /// Per decoded image: its listing index, size and channels (1 or 3).
        var files: [Int], widths: [Int], heights: [Int], channels: [Int]
        /// Images that had an alpha channel (dropped at decoding).
        var alphaCount: Int
        /// Files that could not be decoded: listing index and why.
        var skippedFiles: [Int], skippedReasons: [String]
        var pixelBytes: Int
        /// `ContentHash` of the pixels.
        var pixelHash: String
    }

    /// A folder's decoding: the images and which listing entries they and the skips came from.
    struct Contents {
        var images: RawImages
        var files: [Int]
        var alphaCount: Int
        var skipped: [(file: Int, reason: String)]
    }

    /// The cache file of the listing whose key is `key`.
    func path(key: String) -> String { directory + "/folder-\(key).decoded" }

    /// The key of `listing` decoded with the pixel limit `maxPixels`.
    static func key(for listing: ImageFolderListing, maxPixels: Int) throws -> String {
        var h = ContentHash()
        h.update(Array("decoded-cache \(formatVersion) max-pixels \(maxPixels)\n".utf8))
        let prefix = listing.root.hasSuffix("/") ? listing.root : listing.root + "/"
        for path in listing.files {
            var info = stat()
            guard stat(path, &info) == 0 else { throw FileError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
            let relative = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            h.update(Array("\(relative)\u{0}\(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n".utf8))
        }
        return h.hex
    }

    /// The cache at `path`, checked through: both magics, the header's hash, version, key and
    /// file count, that every index and size is sane and the sizes add up to the pixels and the
    /// file's length, and the pixels' content hash. Throws a `FileError` naming the field and
    /// what was expected; the images are mapped, not read.
    static func read(_ path: String, key: String, fileCount: Int) throws -> Contents {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func fail(_ what: String) -> FileError { FileError(path: path, "decoded cache: \(what)") }
        let n = bytes.count
        guard n >= startMagic.count + trailerSize else {
            throw fail("\(n) bytes, shorter than the \(startMagic.count + trailerSize) of an empty cache (truncated)")
        }
        guard Array(bytes[0..<8]) == startMagic else { throw fail("the first 8 bytes are not \"FDDCACHE\"") }
        guard Array(bytes[(n - 8)..<n]) == endMagic else { throw fail("the last 8 bytes are not \"FDDC-END\" (truncated?)") }
        var length: UInt64 = 0
        for k in 0..<8 { length |= UInt64(bytes[n - trailerSize + k]) << (8 * UInt64(k)) }
        guard length <= UInt64(n - startMagic.count - trailerSize) else {
            throw fail("header length \(length) exceeds the \(n) bytes of the file")
        }
        let headerEnd = n - trailerSize, headerStart = headerEnd - Int(length)
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[headerStart..<headerEnd])
        var hash = ContentHash()
        hash.update(headerBytes)
        let storedHash = String(decoding: bytes[(n - 24)..<(n - 8)], as: UTF8.self)
        guard storedHash == hash.hex else { throw fail("header hash \(hash.hex), expected the stored \(storedHash)") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(headerBytes)) } catch {
            throw fail("header is not the JSON this version writes: \(error)")
        }
        guard header.version == formatVersion else { throw fail("version \(header.version), expected \(formatVersion)") }
        guard header.key == key else { throw fail("key \(header.key), expected \(key) (the folder's listing)") }
        guard header.fileCount == fileCount else { throw fail("fileCount \(header.fileCount), expected \(fileCount) files in the listing") }
        let m = header.files.count
        guard header.widths.count == m, header.heights.count == m, header.channels.count == m,
              header.skippedReasons.count == header.skippedFiles.count, m + header.skippedFiles.count == fileCount else {
            throw fail("\(m) files, \(header.widths.count) widths, \(header.heights.count) heights, \(header.channels.count) channels, "
                       + "\(header.skippedFiles.count) skipped: expected one size per image and images + skipped = \(fileCount)")
        }
        let listed = (header.files + header.skippedFiles).sorted()
        guard listed == Array(0..<fileCount) else { throw fail("files and skippedFiles do not cover 0..<\(fileCount) once each") }
        guard header.files == header.files.sorted() else { throw fail("files are not in listing order") }
        var pixels = 0
        for i in 0..<m {
            let w = header.widths[i], h = header.heights[i], c = header.channels[i]
            guard w > 0, h > 0, w <= ImageLimits.defaultMaxPixels, h <= ImageLimits.defaultMaxPixels, c == 1 || c == 3 else {
                throw fail("image \(i) of \(w)x\(h) with \(c) channel(s): expected a positive size and 1 or 3 channels")
            }
            pixels += w * h * c
        }
        guard pixels == header.pixelBytes, startMagic.count + pixels == headerStart else {
            throw fail("pixelBytes \(header.pixelBytes), sizes adding up to \(pixels), and \(headerStart - startMagic.count) bytes "
                       + "before the header: expected all three equal")
        }
        guard (0...m).contains(header.alphaCount) else { throw fail("alphaCount \(header.alphaCount), expected 0...\(m)") }
        let images = RawImages(mapping: file, start: startMagic.count, widths: header.widths, heights: header.heights,
                               channels: header.channels)
        var pixelHash = ContentHash()
        images.withPixels { pixelHash.update($0) }
        guard pixelHash.hex == header.pixelHash else {
            throw fail("pixel hash \(pixelHash.hex), expected the stored \(header.pixelHash) (the pixels changed)")
        }
        return Contents(images: images, files: header.files, alphaCount: header.alphaCount,
                        skipped: zip(header.skippedFiles, header.skippedReasons).map { ($0, $1) })
    }

    /// Writes a cache as the decoded images arrive (in listing order), so the whole set is
    /// never assembled in memory; `finish` maps what was written and renames it into place.
    final class Writer {
        let file: FileBytes.AtomicFile
        let key: String, fileCount: Int
        private var header: Header
        private var hash = ContentHash()

        init(path: String, key: String, fileCount: Int) throws {
            try FileError.createFolder((path as NSString).deletingLastPathComponent)
            file = try FileBytes.AtomicFile(path: path)
            self.key = key; self.fileCount = fileCount
            header = Header(version: DecodedCache.formatVersion, key: key, fileCount: fileCount, files: [], widths: [], heights: [],
                            channels: [], alphaCount: 0, skippedFiles: [], skippedReasons: [], pixelBytes: 0, pixelHash: "")
            try file.append(DecodedCache.startMagic)
        }

        /// The first write that failed: kept for `finish`, so that a full disk does not stop
        /// one rank in the middle of the others' broadcasts.
        private var failure: Error?

        func append(_ image: DecodedImage, file index: Int) {
            guard failure == nil else { return }
            do { try file.append(image.pixels) } catch { failure = error; return }
            hash.update(image.pixels)
            header.files.append(index)
            header.widths.append(image.width); header.heights.append(image.height); header.channels.append(image.channels)
            header.pixelBytes += image.pixels.count
            if image.hadAlpha { header.alphaCount += 1 }
        }

        func skip(file index: Int, reason: String) {
            header.skippedFiles.append(index); header.skippedReasons.append(reason)
        }

        /// Writes the header, maps the file and renames it into place. Ranks that race to
        /// write the same cache each rename their own, identical, file.
        func finish() throws -> Contents {
            if let failure { throw failure }
            header.pixelHash = hash.hex
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // the same images give the same file
            let json = Array(try encoder.encode(header))
            var digest = ContentHash()
            digest.update(json)
            var length = UInt64(json.count).littleEndian
            try file.append(json)
            try file.append(withUnsafeBytes(of: &length) { Array($0) })
            try file.append(Array(digest.hex.utf8) + DecodedCache.endMagic)
            let mapped = try MappedFile(path: file.temporaryPath, name: file.path)  // stays valid across the rename
            try file.commit()
            let images = RawImages(mapping: mapped, start: DecodedCache.startMagic.count, widths: header.widths,
                                   heights: header.heights, channels: header.channels)
            return Contents(images: images, files: header.files, alphaCount: header.alphaCount,
                            skipped: zip(header.skippedFiles, header.skippedReasons).map { ($0, $1) })
        }
    }
}
