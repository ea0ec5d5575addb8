import Foundation

/// An n-dimensional array as NumPy stores it: little-endian float32 or float64, C order.
public struct NumpyArray: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
    }

    public let shape: [Int]
    public let values: Values

    public init(shape: [Int], float32 values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = .float32(values)
    }

    public init(shape: [Int], float64 values: [Double]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = .float64(values)
    }

    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, float32: tensor.array)
    }

    public var count: Int { shape.reduce(1, *) }

    /// NumPy's dtype string: '<f4' or '<f8'.
    public var descr: String {
        switch values {
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }

    /// The values as Float64 (exact for either dtype).
    public var doubles: [Double] {
        switch values {
        case .float32(let v): return v.map(Double.init)
        case .float64(let v): return v
        }
    }

    /// The values as Float32 (rounding float64).
    public var floats: [Float] {
        switch values {
        case .float32(let v): return v
        case .float64(let v): return v.map(Float.init)
        }
    }

    /// A Float32 tensor of the same shape.
    public func tensor() -> Tensor { Tensor(shape: shape, values: floats) }
}

/// NumPy's .npy format, version 1.0 written (2.0 for very long headers; 1.0, 2.0 and 3.0 read): the magic
/// "\x93NUMPY", the version, a little-endian header length, an ASCII Python dict
/// {'descr': '<f4', 'fortran_order': False, 'shape': (n, ...), } padded with spaces to a
/// multiple of 64 bytes and ended by a newline, then the data.
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func write(_ array: NumpyArray, to path: String) throws {
        try FileBytes.writeAtomically(encode(array), to: path)
    }

    public static func write(_ tensor: Tensor, to path: String) throws {
        try FileBytes.writeAtomically(encode(tensor), to: path)
    }

    public static func read(_ path: String) throws -> NumpyArray {
        try decode(FileBytes.read(path), name: path)
    }

    public static func encode(_ array: NumpyArray) -> [UInt8] {
        switch array.values {
        case .float32(let v): return v.withUnsafeBytes { encode(descr: "<f4", shape: array.shape, data: $0) }
        case .float64(let v): return v.withUnsafeBytes { encode(descr: "<f8", shape: array.shape, data: $0) }
        }
    }

    /// A tensor as '<f4' without copying it into an array first.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        encode(descr: "<f4", shape: tensor.shape,
               data: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * MemoryLayout<Float>.size))
    }

    static func encode(descr: String, shape: [Int], data: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(UInt16(1).littleEndian == 1, "the .npy writer assumes a little-endian machine")
        let dims = shape.map(String.init)
        let shapeText = shape.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Version 1.0 has a 16-bit header length; a longer header (thousands of dimensions)
        // needs 2.0's 32-bit one, as numpy.save does.
        let version1 = magic.count + 2 + 2 + header.utf8.count + 1 + 63 <= 0xffff
        let unpadded = magic.count + 2 + (version1 ? 2 : 4) + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = magic + [version1 ? 1 : 2, 0]
        if version1 { out.appendLittleEndian(UInt16(header.utf8.count)) } else { out.appendLittleEndian(UInt32(header.utf8.count)) }
        out += Array(header.utf8)
        out += data
        return out
    }

    /// Parses a .npy file's bytes; `name` (a path, or "file.npz:member.npy") goes into errors.
    public static func decode(_ bytes: [UInt8], name: String) throws -> NumpyArray {
        func fail(_ message: String) -> FileError { FileError(path: name, message) }
        let (dict, dataStart) = try header(bytes, name: name)
        let itemSize: Int
        switch dict.descr {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        default: throw fail("unsupported dtype '\(dict.descr)': expected '<f4' or '<f8'")
        }
        // The shape is only believed once the file holds its bytes: nothing is allocated before.
        guard let count = CheckedSize.elementCount(dict.shape), let expected = CheckedSize.multiply(count, itemSize) else {
            throw fail("shape \(dict.shape) of \(dict.descr) has more elements than fit in memory: expected a shape "
                       + "matching the \(bytes.count - dataStart) data bytes")
        }
        guard bytes.count - dataStart == expected else {
            throw fail("shape \(dict.shape) of \(dict.descr) needs \(expected) data bytes, found \(bytes.count - dataStart); "
                       + "expected the data the header describes")
        }
        return bytes.withUnsafeBytes { raw -> NumpyArray in
            let data = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            if itemSize == 4 {
                let v = (0..<count).map { Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                return NumpyArray(shape: dict.shape, float32: v)
            } else {
                let v = (0..<count).map { Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
                return NumpyArray(shape: dict.shape, float64: v)
            }
        }
    }

    /// The header of a .npy file (any dtype) and where its data starts; C order only.
    static func header(_ bytes: [UInt8], name: String) throws -> (NPYHeader, Int) {
        func fail(_ message: String) -> FileError { FileError(path: name, message) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy file: expected the magic \\x93NUMPY, found \(bytes.prefix(6).map { String(format2: $0) }.joined(separator: " "))")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated .npy header: expected at least 12 bytes, found \(bytes.count)") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy version \(major).\(bytes[7]): expected 1.0, 2.0 or 3.0")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw fail("truncated .npy header: expected \(headerLength) header bytes, found \(bytes.count - headerStart)")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw fail("the .npy header is not UTF-8 text: expected an ASCII Python dict")
        }
        let dict: NPYHeader
        do {
            dict = try NPYHeader(parsing: header)
        } catch let error as NPYHeader.ParseError {
            throw fail("bad .npy header \(header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)): \(error.message); "
                       + "expected a dict like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
        }
        if dict.fortranOrder {
            throw fail("fortran_order True is not supported: expected a C-order array")
        }
        return (dict, headerStart + headerLength)
    }

    /// A .npy array of any of the dtypes image and label arrays come in, as Doubles (exact
    /// for all of them but 64-bit integers beyond 2^53), with its dtype string.
    public static func decodeNumbers(_ bytes: [UInt8], name: String) throws -> (descr: String, shape: [Int], values: [Double]) {
        let (dict, dataStart) = try header(bytes, name: name)
        let sizes: [String: Int] = ["|u1": 1, "<u1": 1, "|i1": 1, "<i1": 1, "|b1": 1, "<u2": 2, "<i2": 2, "<u4": 4, "<i4": 4,
                                    "<u8": 8, "<i8": 8, "<f4": 4, "<f8": 8]
        guard let itemSize = sizes[dict.descr] else {
            throw FileError(path: name, "unsupported dtype '\(dict.descr)': expected uint8, an integer type, float32 or float64 "
                            + "(little-endian)")
        }
        guard let count = CheckedSize.elementCount(dict.shape), let expected = CheckedSize.multiply(count, itemSize),
              bytes.count - dataStart == expected else {
            throw FileError(path: name, "shape \(dict.shape) of \(dict.descr) does not match the \(bytes.count - dataStart) data bytes: "
                            + "expected the data the header describes")
        }
        let values: [Double] = bytes.withUnsafeBytes { raw in
            let d = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            func at<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T { T(littleEndian: d.loadUnaligned(fromByteOffset: i * itemSize, as: T.self)) }
            switch dict.descr {
            case "|u1", "<u1", "|b1": return (0..<count).map { Double(d[$0]) }
            case "|i1", "<i1": return (0..<count).map { Double(Int8(bitPattern: d[$0])) }
            case "<u2": return (0..<count).map { Double(at($0, UInt16.self)) }
            case "<i2": return (0..<count).map { Double(at($0, Int16.self)) }
            case "<u4": return (0..<count).map { Double(at($0, UInt32.self)) }
            case "<i4": return (0..<count).map { Double(at($0, Int32.self)) }
            case "<u8": return (0..<count).map { Double(at($0, UInt64.self)) }
            case "<i8": return (0..<count).map { Double(at($0, Int64.self)) }
            case "<f4": return (0..<count).map { Double(Float(bitPattern: at($0, UInt32.self))) }
            default: return (0..<count).map { Double(bitPattern: at($0, UInt64.self)) }
            }
        }
        return (dict.descr, dict.shape, values)
    }
}

private extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
    }
}

/// The Python dict literal of a .npy header: string keys mapping to a string, a bool or a
/// tuple of integers.
struct NPYHeader {
    struct ParseError: Error { let message: String }

    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    init(parsing text: String) throws {
        var s = Substring(text)
        func skipSpace() { while let c = s.first, c == " " || c == "\n" || c == "\t" || c == "\r" { s.removeFirst() } }
        func expect(_ c: Character) throws {
            skipSpace()
            guard s.first == c else { throw ParseError(message: "expected '\(c)' at \"\(s.prefix(20))\"") }
            s.removeFirst()
        }
        func string() throws -> String {
            skipSpace()
            guard let quote = s.first, quote == "'" || quote == "\"" else {
                throw ParseError(message: "expected a quoted string at \"\(s.prefix(20))\"")
            }
            s.removeFirst()
            guard let end = s.firstIndex(of: quote) else { throw ParseError(message: "unterminated string") }
            let value = String(s[..<end])
            s = s[s.index(after: end)...]
            return value
        }
        func integer() throws -> Int {
            skipSpace()
            let digits = s.prefix(while: { $0.isNumber })
            guard let v = Int(digits) else { throw ParseError(message: "expected an integer at \"\(s.prefix(20))\"") }
            s.removeFirst(digits.count)
            if s.first == "L" { s.removeFirst() }  // Python 2 longs
            return v
        }
        var seen = Set<String>()
        try expect("{")
        while true {
            skipSpace()
            if s.first == "}" { s.removeFirst(); break }
            let key = try string()
            try expect(":")
            skipSpace()
            switch key {
            case "descr":
                descr = try string()
            case "fortran_order":
                if s.hasPrefix("True") { fortranOrder = true; s.removeFirst(4) }
                else if s.hasPrefix("False") { fortranOrder = false; s.removeFirst(5) }
                else { throw ParseError(message: "fortran_order must be True or False") }
            case "shape":
                try expect("(")
                shape = []
                while true {
                    skipSpace()
                    if s.first == ")" { s.removeFirst(); break }
                    shape.append(try integer())
                    skipSpace()
                    if s.first == "," { s.removeFirst() }
                    else if s.first != ")" { throw ParseError(message: "expected ',' or ')' in shape") }
                }
            default:
                throw ParseError(message: "unexpected key '\(key)'")
            }
            seen.insert(key)
            skipSpace()
            if s.first == "," { s.removeFirst() }
            else if s.first != "}" { throw ParseError(message: "expected ',' or '}' at \"\(s.prefix(20))\"") }
        }
        for key in ["descr", "fortran_order", "shape"] where !seen.contains(key) {
            throw ParseError(message: "missing key '\(key)'")
        }
    }
}
