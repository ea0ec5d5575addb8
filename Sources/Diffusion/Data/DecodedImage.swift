/// One image as decoded from a file or an array: 8-bit, row-major, 1 (gray) or 3 (RGB)
/// interleaved channels. An alpha channel is dropped at decoding (as PIL's convert("RGB")
/// does): `hadAlpha` says there was one, for the loader's note.
public struct DecodedImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let pixels: [UInt8]
    public var hadAlpha = false

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], hadAlpha: Bool = false) {
        precondition(channels == 1 || channels == 3, "decoded images are gray or RGB, got \(channels) channels")
        precondition(pixels.count == width * height * channels, "\(pixels.count) bytes for \(width)x\(height)x\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels; self.hadAlpha = hadAlpha
    }

    /// 8-bit pixels with `channels` 1...4 (gray, gray+alpha, RGB, RGBA): the alpha dropped.
    init(width: Int, height: Int, decoded bytes: [UInt8], channels: Int) {
        switch channels {
        case 2, 4:
            let kept = channels - 1
            var out = [UInt8](repeating: 0, count: width * height * kept)
            for p in 0..<(width * height) {
                for c in 0..<kept { out[p * kept + c] = bytes[p * channels + c] }
            }
            self.init(width: width, height: height, channels: kept, pixels: out, hadAlpha: true)
        default:
            self.init(width: width, height: height, channels: channels, pixels: bytes)
        }
    }
}

/// How large an image may be before it is decoded: the header's width x height is checked
/// against this first, so a small file that claims a huge image (a decompression bomb)
/// allocates nothing. 2^26 pixels (an 8192x8192 image) by default.
public enum ImageLimits {
    public static let defaultMaxPixels = 1 << 26
}

/// A file that could not be used as an image: which file and why.
public struct ImageFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public init(path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// The image formats the folder reader decodes, told apart by their first bytes.
public enum ImageFormat: String, Sendable {
    case png, jpeg

    /// Files whose name ends so are read as images (anything else counts as a non-image file).
    public static let extensions: [String: ImageFormat] = ["png": .png, "jpg": .jpeg, "jpeg": .jpeg]

    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// Decodes `bytes` (the contents of `path`) by their signature, whatever the extension says.
    public static func decode(_ bytes: [UInt8], path: String, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> DecodedImage {
        if bytes.isEmpty { throw ImageFileError(path: path, "empty file (0 bytes): expected a PNG or JPEG image") }
        switch sniff(bytes) {
        case .png: return try PNGDecoder.decode(bytes, path: path, maxPixels: maxPixels)
        case .jpeg: return try JPEGDecoder.decode(bytes, path: path, maxPixels: maxPixels)
        case nil:
            throw ImageFileError(path: path, "not a PNG or JPEG file: its first bytes are neither signature")
        }
    }
}
