/// The decoded images of a data set, kept compact: 8 bits a sample, each image at its own
/// size and channel count (1 or 3), one after another in a single array. This is the cache
/// that is decoded once; preprocessing (`ImagePreprocess`) reads from it.
public struct RawImages: Sendable, Equatable {
    public private(set) var pixels: [UInt8] = []
    /// Image i's bytes are `pixels[offsets[i] ..< offsets[i + 1]]`.
    public private(set) var offsets: [Int] = [0]
    public private(set) var widths: [Int] = []
    public private(set) var heights: [Int] = []
    public private(set) var channels: [Int] = []

    public init() {}

    public var count: Int { widths.count }
    public var byteCount: Int { pixels.count }

    public mutating func append(_ image: DecodedImage) {
        pixels += image.pixels
        offsets.append(pixels.count)
        widths.append(image.width); heights.append(image.height); channels.append(image.channels)
    }

    /// Images of one size and channel count stored as [count, height, width, channels] bytes.
    public init(uniform bytes: [UInt8], count: Int, height: Int, width: Int, channels: Int) {
        precondition(bytes.count == count * height * width * channels, "\(bytes.count) bytes for [\(count), \(height), \(width), \(channels)]")
        pixels = bytes
        let size = height * width * channels
        offsets = (0...count).map { $0 * size }
        widths = Array(repeating: width, count: count)
        heights = Array(repeating: height, count: count)
        self.channels = Array(repeating: channels, count: count)
    }

    public func image(_ i: Int) -> DecodedImage {
        DecodedImage(width: widths[i], height: heights[i], channels: channels[i], pixels: Array(pixels[offsets[i]..<offsets[i + 1]]))
    }

    /// The distinct sizes, "28x28" or "28x28, 32x40 (+3 more)", for messages.
    public var sizeSummary: String {
        var seen: [String] = []
        for i in 0..<count {
            let s = "\(widths[i])x\(heights[i])"
            if !seen.contains(s) { seen.append(s); if seen.count > 3 { break } }
        }
        return seen.prefix(3).joined(separator: ", ") + (seen.count > 3 ? " and more" : "")
    }

    public var isUniformSize: Bool { Set(widths).count <= 1 && Set(heights).count <= 1 }

    /// A content hash of the pixels and sizes (the data set's identity for classifiers and caches).
    public func contentHash(labels: [Int]?) -> String {
        var h = ContentHash()
        h.update(pixels)
        for i in 0..<count { h.update(Array("\(widths[i])x\(heights[i])x\(channels[i]);".utf8)) }
        if let labels { h.update(Array(labels.map(String.init).joined(separator: ",").utf8)) }
        return h.hex
    }
}
