/// Why a safetensors file could not be read or written: which file, which tensor (when one
/// is to blame), what the format requires and what the file holds.
public struct SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file could not be opened, read, or written (the system's reason is in `found`).
        case io
        /// Shorter than the 8-byte header length.
        case truncated
        /// The header length is larger than the format allows or runs past the end of the file.
        case headerLength
        case headerNotUTF8
        case headerNotJSON
        /// The header is JSON but not an object of objects.
        case headerNotObject
        case duplicateName
        /// `__metadata__` is not a map of strings to strings, or its content hashes are
        /// malformed, name no tensor, or cover only some tensors.
        case badMetadata
        /// A tensor's bytes differ from the content hash stored for it: the file is damaged.
        case hashMismatch
        /// A tensor entry is not an object, or lacks `dtype`, `shape` or `data_offsets`.
        case missingField
        case wrongFieldType
        case unknownDType
        /// A shape entry that is negative, not an integer, or a shape whose size overflows.
        case badShape
        /// `data_offsets` is not two non-negative integers.
        case badOffsets
        case offsetsReversed
        case offsetsOutOfRange
        /// Shape × dtype size differs from the byte count the offsets give.
        case sizeMismatch
        case overlap
        /// Bytes of the data section that no tensor covers (between tensors or at the end).
        case gap
        case noSuchTensor
        /// The tensor's dtype cannot be converted to what was asked for.
        case unsupportedConversion
        /// The writer was handed something it cannot store (duplicate or reserved name,
        /// shape that disagrees with the values).
        case invalidInput
    }

    public let kind: Kind
    public let path: String
    /// The tensor at fault, if any.
    public let tensor: String?
    public let expected: String
    public let found: String

    public init(_ kind: Kind, path: String, tensor: String? = nil, expected: String, found: String) {
        self.kind = kind
        self.path = path
        self.tensor = tensor
        self.expected = expected
        self.found = found
    }

    public var description: String {
        let subject = tensor.map { "\(path): tensor \"\($0)\"" } ?? path
        return "\(subject): \(Self.summary[kind] ?? kind.rawValue): expected \(expected), found \(found)"
    }

    private static let summary: [Kind: String] = [
        .io: "I/O error",
        .truncated: "file too short",
        .headerLength: "bad header length",
        .headerNotUTF8: "header is not UTF-8",
        .headerNotJSON: "header is not valid JSON",
        .headerNotObject: "header has the wrong structure",
        .duplicateName: "duplicate tensor name",
        .badMetadata: "bad __metadata__",
        .hashMismatch: "data does not match its content hash",
        .missingField: "missing field",
        .wrongFieldType: "field of the wrong type",
        .unknownDType: "unknown dtype",
        .badShape: "bad shape",
        .badOffsets: "bad data_offsets",
        .offsetsReversed: "data_offsets begin after end",
        .offsetsOutOfRange: "data_offsets out of range",
        .sizeMismatch: "byte count does not match shape and dtype",
        .overlap: "tensors overlap",
        .gap: "data section not fully covered",
        .noSuchTensor: "no such tensor",
        .unsupportedConversion: "unsupported dtype conversion",
        .invalidInput: "cannot write",
    ]
}
