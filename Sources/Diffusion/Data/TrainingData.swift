import Foundation

/// A data set to train on or to compare with: decoded images, their classes when known, and
/// what came out of reading them (files skipped, notes on conversions).
public struct TrainingData: Sendable {
    public var images: RawImages
    /// One class in 0..<classNames.count per image, or nil for unlabelled data.
    public var labels: [Int]?
    public var classNames: [String]?
    /// What was read, for messages ("folder data/x (1,797 images, 10 classes)").
    public var source: String
    /// Files that could not be used and why (folders without --strict).
    public var skipped: [ImageFileError] = []
    /// Non-image files found in a folder (skipped without --strict).
    public var nonImageFiles: [String] = []
    /// Things the user should know: conversions, inferred value ranges.
    public var notes: [String] = []

    public var count: Int { images.count }
    /// Channels of the source (3 if any image is RGB).
    public var channels: Int { images.channels.contains(3) ? 3 : 1 }
    public var classCount: Int? { classNames?.count }

    /// The data set's identity: decoded pixels, sizes and labels.
    public var contentHash: String { images.contentHash(labels: labels) }

    public init(images: RawImages, labels: [Int]?, classNames: [String]?, source: String) {
        self.images = images; self.labels = labels; self.classNames = classNames; self.source = source
    }

    /// A summary line: what was read and what was skipped.
    public var summary: String {
        var s = "\(source): \(count) image(s), \(images.sizeSummary), \(channels == 3 ? "RGB" : "gray")"
        if let classNames { s += ", \(classNames.count) classes (\(classNames.prefix(10).joined(separator: ", "))\(classNames.count > 10 ? ", ..." : ""))" }
        else { s += ", no labels" }
        if !skipped.isEmpty { s += "; skipped \(skipped.count) unreadable image file(s)" }
        if !nonImageFiles.isEmpty { s += "; skipped \(nonImageFiles.count) non-image file(s)" }
        return s
    }
}

/// Where the data comes from and how strictly it is read (`--data`, `--labels`, `--strict`,
/// `--value-range`), the same on every rank.
public struct DataSpec: Sendable, Codable, Equatable {
    public var path: String
    /// Labels for a .npy array, or the labels file of an IDX pair (else the images file's
    /// sibling: "...-images-idx3-ubyte" -> "...-labels-idx1-ubyte").
    public var labelsPath: String?
    /// Refuse corrupt, truncated, oversized and non-image files instead of skipping them.
    public var strict = false
    /// The range a float .npy array's values span, mapped to 0...255; nil: inferred.
    public var valueRange: [Double]?
    public var maxPixels = ImageLimits.defaultMaxPixels
    /// The folder of on-disk decoded caches of image folders (`DecodedCache`); nil: none.
    public var cacheDirectory: String?

    public init(path: String, labelsPath: String? = nil, strict: Bool = false, valueRange: [Double]? = nil,
                cacheDirectory: String? = nil) {
        self.path = path; self.labelsPath = labelsPath; self.strict = strict; self.valueRange = valueRange
        self.cacheDirectory = cacheDirectory
    }

    public enum Kind: String, Sendable { case folder, npy, idx }

    /// A folder holding an IDX pair (train-images-idx3-ubyte[.gz]) is read as IDX; any other
    /// folder as images; a .npy file as an array; any other file as an IDX images file.
    public var kind: Kind {
        if ImageFolderListing.isFolder(path) {
            return IDXPair.trainPaths(in: path) != nil ? .idx : .folder
        }
        return path.lowercased().hasSuffix(".npy") ? .npy : .idx
    }
}

public enum TrainingDataLoader {
    /// Reads `spec` on every rank of `group`. A folder is decoded over the ranks, in blocks
    /// of files dealt round-robin, and every rank receives every block, so all hold the same
    /// decoded set (and the same skips) whatever the rank count; with a cache folder the
    /// decoded set is kept on disk and mapped (`loadFolder`). Collective.
    public static func load(_ spec: DataSpec, group: Collectives) throws -> TrainingData {
        switch spec.kind {
        case .folder: return try loadFolder(spec, group: group)
        case .npy: return try group.together { try NPYImages.load(spec) }
        case .idx: return try group.together { try IDXPair.load(spec) }
        }
    }

    /// Rank `root`'s bytes on every rank, in pieces (MPI counts are 32-bit).
    static func shareBlob(_ bytes: [UInt8], root: Int, group: Collectives) throws -> [UInt8] {
        let n = Int(try group.allreduceSum([group.rank == root ? Double(bytes.count) : 0])[0])
        var out = group.rank == root ? bytes : [UInt8](repeating: 0, count: n)
        let piece = 1 << 28
        var start = 0
        while start < n {
            let end = min(start + piece, n)
            try out.withUnsafeMutableBufferPointer { try group.broadcast(UnsafeMutableBufferPointer(rebasing: $0[start..<end]), root: root) }
            start = end
        }
        return out
    }
}

/// One rank's decoded block of files as bytes: per file a tag (1 image, 0 failure), then width,
/// height, channels, alpha flag and the pixels, or the path and reason.
struct ShareBlob {
    var bytes: [UInt8] = []

    mutating func append(_ item: Result<DecodedImage, ImageFileError>) {
        func put(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { bytes += $0 } }
        func put(_ s: String) { let u = Array(s.utf8); put(u.count); bytes += u }
        switch item {
        case .success(let image):
            bytes.append(1)
            put(image.width); put(image.height); put(image.channels); put(image.hadAlpha ? 1 : 0)
            bytes += image.pixels
        case .failure(let error):
            bytes.append(0)
            put(error.path); put(error.reason)
        }
    }

    static func items(_ bytes: [UInt8]) throws -> [Result<DecodedImage, ImageFileError>] {
        var at = 0
        var out: [Result<DecodedImage, ImageFileError>] = []
        func int() -> Int {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
            at += 8
            return Int(v)
        }
        func string() -> String { let n = int(); defer { at += n }; return String(decoding: bytes[at..<(at + n)], as: UTF8.self) }
        while at < bytes.count {
            let tag = bytes[at]; at += 1
            if tag == 1 {
                let w = int(), h = int(), c = int(), alpha = int() == 1
                let n = w * h * c
                out.append(.success(DecodedImage(width: w, height: h, channels: c, pixels: Array(bytes[at..<(at + n)]), hadAlpha: alpha)))
                at += n
            } else {
                let path = string()
                out.append(.failure(ImageFileError(path: path, string())))
            }
        }
        return out
    }
}
