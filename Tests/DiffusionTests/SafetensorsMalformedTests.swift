import Testing
@testable import Diffusion

/// Each way a header can be wrong gives its own error, naming the file and the tensor.
@Suite struct SafetensorsMalformedTests {
    static let path = "/models/broken.safetensors"

    /// Header text + data bytes, with the true header length unless told otherwise.
    static func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(length ?? UInt64(header.utf8.count))
        return bytes + Array(header.utf8) + data
    }

    static func entry(_ name: String, dtype: String = "\"F32\"", shape: String = "[2]", offsets: String = "[0,8]") -> String {
        "\"\(name)\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    /// Parses and returns the error, recording an issue if parsing succeeds.
    static func error(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> SafetensorsError? {
        #expect(throws: SafetensorsError.self, sourceLocation: sourceLocation) {
            try Safetensors(bytes: bytes, path: path)
        }
    }

    static func check(_ bytes: [UInt8], _ kind: SafetensorsError.Kind, tensor: String?, mentions: [String] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = error(bytes, sourceLocation: sourceLocation) else { return }
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        #expect(e.tensor == tensor, "\(e)", sourceLocation: sourceLocation)
        #expect(e.path == path, sourceLocation: sourceLocation)
        #expect(e.description.hasPrefix(path), "\(e)", sourceLocation: sourceLocation)
        if let tensor { #expect(e.description.contains("\"\(tensor)\""), "\(e)", sourceLocation: sourceLocation) }
        for text in mentions { #expect(e.description.contains(text), "\(e) should mention \(text)", sourceLocation: sourceLocation) }
    }

    let eight = [UInt8](repeating: 0, count: 8)

    @Test func validMinimalFilesLoad() throws {
        #expect(try Safetensors(bytes: Self.file("{}"), path: Self.path).tensors.isEmpty)
        #expect(try Safetensors(bytes: Self.file("{" + Self.entry("w") + "}   ", data: eight), path: Self.path).names == ["w"])
        // Entries in any order, zero-size tensors anywhere on the tiling.
        let header = "{" + [Self.entry("b", offsets: "[8,16]"), Self.entry("e", shape: "[0,5]", offsets: "[8,8]"),
                            Self.entry("a")].joined(separator: ",") + "}"
        let file = try Safetensors(bytes: Self.file(header, data: eight + eight), path: Self.path)
        #expect(file.names == ["a", "e", "b"])
    }

    @Test func fileAndHeaderLength() {
        Self.check([1, 2, 3], .truncated, tensor: nil, mentions: ["3 bytes"])
        Self.check(Self.file("{}", length: 200_000_000), .headerLength, tensor: nil, mentions: ["200000000"])
        Self.check(Self.file("{}", length: UInt64.max), .headerLength, tensor: nil)
        Self.check(Self.file("{}", length: 3), .headerLength, tensor: nil, mentions: ["at most 2"])
        // A length shorter than the JSON cuts the JSON.
        Self.check(Self.file("{}", length: 1), .headerNotJSON, tensor: nil)
    }

    @Test func encodingAndSyntax() {
        var bad = Self.file("{\"w\u{e9}\":1}")
        bad[8 + 3] = 0xFF
        Self.check(bad, .headerNotUTF8, tensor: nil, mentions: ["header byte 3"])
        Self.check(Self.file("{\"w\":"), .headerNotJSON, tensor: nil)
        Self.check(Self.file("{\"w\":{}} x"), .headerNotJSON, tensor: nil, mentions: ["after the JSON value"])
        Self.check(Self.file(String(repeating: "[", count: 100_000)), .headerNotJSON, tensor: nil, mentions: ["nesting"])
        Self.check(Self.file("[1,2]"), .headerNotObject, tensor: nil)
    }

    @Test func entryFields() {
        Self.check(Self.file("{\"w\":[1]}", data: eight), .wrongFieldType, tensor: "w")
        Self.check(Self.file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight), .missingField, tensor: "w",
                   mentions: ["dtype"])
        Self.check(Self.file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data: eight), .missingField, tensor: "w",
                   mentions: ["shape"])
        Self.check(Self.file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: eight), .missingField, tensor: "w",
                   mentions: ["data_offsets"])
        Self.check(Self.file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight),
                   .wrongFieldType, tensor: "w")
        Self.check(Self.file("{" + Self.entry("w", dtype: "32") + "}", data: eight), .wrongFieldType, tensor: "w")
    }

    @Test func dtypes() {
        Self.check(Self.file("{" + Self.entry("w", dtype: "\"F33\"") + "}", data: eight), .unknownDType, tensor: "w",
                   mentions: ["\"F33\"", "F32", "BF16"])
        Self.check(Self.file("{" + Self.entry("w", dtype: "\"f32\"") + "}", data: eight), .unknownDType, tensor: "w")
    }

    @Test func shapes() {
        for shape in ["[-2]", "[2.5]", "[\"2\"]", "[null]", "[99999999999999999999999]"] {
            Self.check(Self.file("{" + Self.entry("w", shape: shape) + "}", data: eight), .badShape, tensor: "w", mentions: [shape])
        }
        Self.check(Self.file("{" + Self.entry("w", shape: "[4294967296,4294967296]") + "}", data: eight), .badShape,
                   tensor: "w", mentions: ["fits in 64 bits"])
        Self.check(Self.file("{" + Self.entry("w", shape: "2") + "}", data: eight), .wrongFieldType, tensor: "w")
    }

    @Test func offsets() {
        for offsets in ["[0]", "[0,8,9]", "[-1,8]", "[0,8.0]", "[0,\"8\"]", "{}"] {
            Self.check(Self.file("{" + Self.entry("w", offsets: offsets) + "}", data: eight), .badOffsets, tensor: "w",
                       mentions: [offsets])
        }
        Self.check(Self.file("{" + Self.entry("w", offsets: "[8,0]") + "}", data: eight), .offsetsReversed, tensor: "w",
                   mentions: ["[8, 0]"])
        Self.check(Self.file("{" + Self.entry("w", offsets: "[0,16]") + "}", data: eight), .offsetsOutOfRange, tensor: "w",
                   mentions: ["8 bytes", "[0, 16]"])
        Self.check(Self.file("{" + Self.entry("w", offsets: "[8,16]") + "}", data: eight), .offsetsOutOfRange, tensor: "w")
    }

    @Test func sizes() {
        Self.check(Self.file("{" + Self.entry("w", shape: "[3]") + "}", data: eight), .sizeMismatch, tensor: "w",
                   mentions: ["12 bytes", "found 8 bytes"])
        Self.check(Self.file("{" + Self.entry("w", dtype: "\"F64\"") + "}", data: eight), .sizeMismatch, tensor: "w",
                   mentions: ["16 bytes", "F64"])
        Self.check(Self.file("{" + Self.entry("w", dtype: "\"F4\"", shape: "[3]", offsets: "[0,2]") + "}", data: [0, 0]),
                   .sizeMismatch, tensor: "w", mentions: ["whole number of bytes"])
    }

    @Test func tiling() {
        // b starts inside a.
        let overlap = "{" + Self.entry("a") + "," + Self.entry("b", offsets: "[4,12]") + "}"
        Self.check(Self.file(overlap, data: eight + [0, 0, 0, 0]), .overlap, tensor: "b", mentions: ["\"a\"", "bytes 4..<12"])
        // Two tensors on the same bytes.
        let same = "{" + Self.entry("a") + "," + Self.entry("b") + "}"
        Self.check(Self.file(same, data: eight), .overlap, tensor: "b")
        // A hole between tensors.
        let hole = "{" + Self.entry("a") + "," + Self.entry("b", offsets: "[12,20]") + "}"
        Self.check(Self.file(hole, data: eight + eight + [0, 0, 0, 0]), .gap, tensor: "b", mentions: ["4 bytes unused"])
        // Data before the first tensor.
        Self.check(Self.file("{" + Self.entry("a", offsets: "[4,12]") + "}", data: eight + [0, 0, 0, 0]), .gap, tensor: "a")
        // Bytes after the last tensor.
        Self.check(Self.file("{" + Self.entry("a") + "}", data: eight + [1]), .gap, tensor: nil, mentions: ["1 bytes after"])
        Self.check(Self.file("{}", data: [0]), .gap, tensor: nil)
    }

    @Test func namesAndMetadata() {
        let duplicate = "{" + Self.entry("w") + "," + Self.entry("w", offsets: "[8,16]") + "}"
        Self.check(Self.file(duplicate, data: eight + eight), .duplicateName, tensor: "w")
        Self.check(Self.file("{\"__metadata__\":{\"a\":1}}"), .badMetadata, tensor: nil, mentions: ["\"a\""])
        Self.check(Self.file("{\"__metadata__\":[]}"), .badMetadata, tensor: nil)
        Self.check(Self.file("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}"), .badMetadata, tensor: nil)
        Self.check(Self.file("{\"__metadata__\":{},\"__metadata__\":{}}"), .duplicateName, tensor: nil)
    }

    @Test func lookupsAndFiles() throws {
        let file = try Safetensors(bytes: Self.file("{" + Self.entry("w") + "}", data: eight), path: Self.path)
        let missing = #expect(throws: SafetensorsError.self) { try file.tensor(named: "v") }
        #expect(missing?.kind == .noSuchTensor)
        #expect(missing?.tensor == "v")
        let wrongType = #expect(throws: SafetensorsError.self) { try file.int64Values(named: "w") }
        #expect(wrongType?.kind == .unsupportedConversion)
        #expect(wrongType?.description.contains("I64") == true)
        let absent = #expect(throws: SafetensorsError.self) { try Safetensors(contentsOf: "/no/such/file.safetensors") }
        #expect(absent?.kind == .io)
        #expect(absent?.description.hasPrefix("/no/such/file.safetensors") == true)
        let directory = #expect(throws: SafetensorsError.self) { try Safetensors(contentsOf: PackageFixtures.directory) }
        #expect(directory?.kind == .io)
    }
}
