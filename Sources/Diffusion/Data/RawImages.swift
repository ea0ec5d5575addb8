/// The decoded images of a data set, kept compact: 8 bits a sample, each image at its own
/// size and channel count (1 or 3), one after another in a single run of bytes. This is the
/// cache that is decoded once; preprocessing (`ImagePreprocess`) reads from it. The bytes are
/// an array, or a read-only mapping of an on-disk decoded cache (`DecodedCache`), which
/// costs page cache rather than this process's memory.
public struct RawImages: Sendable, Equatable {
    private var owned: [UInt8] = []
    /// The cache file and where in it the pixels start, when mapped.
    private var mapped: (file: MappedFile, start: Int)?
    /// Image i's bytes are `offsets[i] ..< offsets[i + 1]` of the pixels.
    public private(set) var offsets: [Int] = [0]
    public private(set) var widths: [Int] = []
    public private(set) var heights: [Int] = []
    public private(set) var channels: [Int] = []

    public init() {}

    public var count: Int { widths.count }
    public var byteCount: Int { offsets.last ?? 0 }
    /// The decoded cache file the pixels are mapped from; nil when they are in memory.
    public var mappedPath: String? { mapped?.file.path }

    public mutating func append(_ image: DecodedImage) {
        precondition(mapped == nil, "a mapped decoded cache is read-only")
        owned += image.pixels
        offsets.append(owned.count)
        widths.append(image.width); heights.append(image.height); channels.append(image.channels)
    }

    /// Images of one size and channel count stored as [count, height, width, channels] bytes.
    public init(uniform bytes: [UInt8], count: Int, height: Int, width: Int, channels: Int) {
        precondition(bytes.count == count * height * width * channels, "\(bytes.count) bytes for [\(count), \(height), \(width), \(channels)]")
        owned = bytes
        let size = height * width * channels
        offsets = (0...count).map { $0 * size }
        widths = Array(repeating: width, count: count)
        heights = Array(repeating: height, count: count)
        self.channels = Array(repeating: channels, count: count)
    }

    /// Images whose pixels lie one after another in `file` from byte `start` on, with these
    /// sizes (checked by the caller to fit the file).
    init(mapping file: MappedFile, start: Int, widths: [Int], heights: [Int], channels: [Int]) {
        precondition(widths.count == heights.count && widths.count == channels.count, "one size per image")
        mapped = (file, start)
        self.widths = widths; self.heights = heights; self.channels = channels
        var offsets = [0]
        offsets.reserveCapacity(widths.count + 1)
        for i in widths.indices { offsets.append(offsets[i] + widths[i] * heights[i] * channels[i]) }
        precondition(start + offsets.last! <= file.bytes.count, "\(offsets.last!) pixel bytes beyond \(file.path)'s end")
        self.offsets = offsets
    }

    /// All the pixel bytes, images one after another.
    public func withPixels<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let mapped {
            return try body(UnsafeRawBufferPointer(rebasing: mapped.file.bytes[mapped.start..<(mapped.start + byteCount)]))
        }
        return try owned.withUnsafeBytes(body)
    }

    public func image(_ i: Int) -> DecodedImage {
        let bytes = withPixels { Array($0[offsets[i]..<offsets[i + 1]]) }
        return DecodedImage(width: widths[i], height: heights[i], channels: channels[i], pixels: bytes)
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
        withPixels { h.update($0) }
        for i in 0..<count { h.update(Array("\(widths[i])x\(heights[i])x\(channels[i]);".utf8)) }
        if let labels { h.update(Array(labels.map(String.init).joined(separator: ",").utf8)) }
        return h.hex
    }

    public static func == (a: RawImages, b: RawImages) -> Bool {
        a.widths == b.widths && a.heights == b.heights && a.channels == b.channels
            && a.withPixels { p in b.withPixels { q in p.elementsEqual(q) } }
    }
}
