/// The IDX format of (Fashion-)MNIST: a big-endian magic number 0x0000TTDD (T the element
/// type, 0x08 for unsigned bytes; D the number of dimensions), D big-endian UInt32 sizes,
/// then the elements in C order. The files ship gzip-compressed.
public enum IDX {
    /// Unsigned-byte elements, 3 dimensions: an image file.
    public static let imagesMagic: UInt32 = 2051
    /// Unsigned-byte elements, 1 dimension: a label file.
    public static let labelsMagic: UInt32 = 2049

    /// The elements of an unsigned-byte IDX file and its dimensions.
    public struct Contents: Sendable {
        public let dimensions: [Int]
        public let values: [UInt8]
    }

    /// Reads a gzip-compressed unsigned-byte IDX file with the given magic number.
    /// Every problem is a `DataError` that names `path`.
    public static func read(path: String, magic: UInt32) throws -> Contents {
        let compressed: [UInt8]
        do {
            compressed = try FileBytes.read(path)
        } catch let error as FileError {
            throw DataError.cannotRead(path: path, reason: error.message)
        }
        return try decode(gzip: compressed, path: path, magic: magic)
    }

    /// Parses the bytes of a gzip-compressed IDX file; `path` is only used in errors.
    /// Inflates the header first and then no more than the size it gives, so a damaged or
    /// hostile file cannot make us allocate beyond what it claims and can back.
    public static func decode(gzip compressed: [UInt8], path: String, magic: UInt32) throws -> Contents {
        func inflate(limit: Int) throws -> Zlib.Inflated {
            let inflated = compressed.withUnsafeBytes {
                Zlib.inflate($0, container: .gzip, sizeHint: min(limit, Zlib.gzipSizeHint(compressed)), limit: limit)
            }
            if let corruption = inflated.corruption {
                throw DataError.corruptedGzip(path: path, reason: corruption)
            }
            return inflated
        }
        let rank = Int(magic & 0xff)
        let headerSize = 4 + 4 * rank
        let header = try inflate(limit: headerSize).bytes
        guard header.count >= 4 else {
            throw DataError.truncated(path: path, expectedBytes: headerSize, foundBytes: header.count)
        }
        let foundMagic = bigEndianUInt32(header, at: 0)
        guard foundMagic == magic else {
            throw DataError.badMagic(path: path, expected: magic, found: foundMagic)
        }
        guard header.count >= headerSize else {
            throw DataError.truncated(path: path, expectedBytes: headerSize, foundBytes: header.count)
        }
        let dimensions = (0..<rank).map { Int(bigEndianUInt32(header, at: 4 + 4 * $0)) }
        // Three 32-bit sizes can multiply past Int.max; no gzip file of this size holds more
        // than maxInflatedSize anyway.
        let most = Zlib.maxInflatedSize(compressedCount: compressed.count)
        guard let count = CheckedSize.elementCount(dimensions), count <= most - headerSize else {
            throw DataError.dimensionsTooLarge(path: path, dimensions: dimensions, compressedBytes: compressed.count)
        }
        let expected = headerSize + count
        // A little past the end, to say how many extra bytes there are when there are few.
        let inflated = try inflate(limit: expected + trailingBytesReported)
        let bytes = inflated.bytes
        if bytes.count < expected {
            throw DataError.truncated(path: path, expectedBytes: expected, foundBytes: bytes.count)
        }
        if inflated.exceededLimit {
            throw DataError.trailingBytes(path: path, expectedBytes: expected, foundBytes: nil)
        }
        if inflated.truncated {
            // All the payload is there but the gzip trailer (CRC, length) is missing.
            throw DataError.corruptedGzip(path: path, reason: "the gzip stream ends before its CRC trailer (truncated file?)")
        }
        if bytes.count > expected {
            throw DataError.trailingBytes(path: path, expectedBytes: expected, foundBytes: bytes.count)
        }
        return Contents(dimensions: dimensions, values: Array(bytes[headerSize...]))
    }

    /// Extra bytes after the data are counted up to this many, then reading stops.
    static let trailingBytesReported = 1 << 16

    @inline(__always)
    static func bigEndianUInt32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }

    /// Encodes an unsigned-byte IDX file (uncompressed): the inverse of `read`, for tests
    /// and for writing small datasets.
    public static func encode(magic: UInt32, dimensions: [Int], values: [UInt8]) -> [UInt8] {
        precondition(Int(magic & 0xff) == dimensions.count, "magic \(magic) is for \(magic & 0xff) dimensions, got \(dimensions)")
        precondition(dimensions.reduce(1, *) == values.count, "\(values.count) values for dimensions \(dimensions)")
        var out: [UInt8] = []
        out.reserveCapacity(4 + 4 * dimensions.count + values.count)
        func put(_ v: UInt32) { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        put(magic)
        dimensions.forEach { put(UInt32($0)) }
        out += values
        return out
    }
}
