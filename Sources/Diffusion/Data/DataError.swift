/// A dataset file that is missing or not what it should be. Every case names the file and,
/// where there is one, what was expected and what was found.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotRead(path: String, reason: String)
    /// zlib rejected the data (bad header, bad code, CRC or length mismatch).
    case corruptedGzip(path: String, reason: String)
    /// The file holds fewer bytes than its header promises (a cut .gz or a short payload).
    case truncated(path: String, expectedBytes: Int, foundBytes: Int)
    /// Dimensions whose product is more bytes than the compressed file could inflate to.
    case dimensionsTooLarge(path: String, dimensions: [Int], compressedBytes: Int)
    /// More bytes than the header accounts for (found nil: more than IDX.trailingBytesReported extra).
    case trailingBytes(path: String, expectedBytes: Int, foundBytes: Int?)
    case badMagic(path: String, expected: UInt32, found: UInt32)
    case badCount(path: String, expected: Int, found: Int)
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    case badImageSize(path: String, expectedRows: Int, expectedColumns: Int, foundRows: Int, foundColumns: Int)
    case labelOutOfRange(path: String, index: Int, value: Int, validRange: ClosedRange<Int>)

    /// The file the error is about (the images file for a count mismatch).
    public var path: String {
        switch self {
        case .cannotRead(let p, _), .corruptedGzip(let p, _), .truncated(let p, _, _), .trailingBytes(let p, _, _),
             .dimensionsTooLarge(let p, _, _),
             .badMagic(let p, _, _), .badCount(let p, _, _), .countMismatch(let p, _, _, _),
             .badImageSize(let p, _, _, _, _), .labelOutOfRange(let p, _, _, _):
            return p
        }
    }

    public var description: String {
        switch self {
        case let .cannotRead(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .corruptedGzip(path, reason):
            return "\(path): corrupted gzip data: \(reason); expected a complete gzip file"
        case let .truncated(path, expected, found):
            return "\(path): truncated: expected \(expected) bytes of IDX data, found \(found)"
        case let .dimensionsTooLarge(path, dimensions, compressed):
            return "\(path): the IDX header gives dimensions \(dimensions), more bytes than \(compressed) bytes of gzip data "
                + "can hold: expected the dimensions of the data that follows"
        case let .trailingBytes(path, expected, found):
            return "\(path): expected \(expected) bytes of IDX data, found \(found.map(String.init) ?? "more than \(expected + IDX.trailingBytesReported)") (extra bytes at the end)"
        case let .badMagic(path, expected, found):
            return "\(path): bad magic number: expected \(expected), found \(found)"
        case let .badCount(path, expected, found):
            return "\(path): expected \(expected) items, found \(found)"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels"
        case let .badImageSize(path, er, ec, fr, fc):
            return "\(path): expected \(er)x\(ec) images, found \(fr)x\(fc)"
        case let .labelOutOfRange(path, index, value, range):
            return "\(path): label \(index) is \(value), expected \(range.lowerBound)...\(range.upperBound)"
        }
    }
}
