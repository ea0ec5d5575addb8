/// A small JSON reader and writer for the two formats we own: the safetensors header and
/// diffusers' config.json.
///
/// Why not JSONSerialization: it drops duplicate keys silently (a duplicate tensor name must
/// be an error), loses key order, and on Linux cannot tell `true` from `1`. Here objects keep
/// their members in file order, numbers keep their literal text (exact 64-bit integers,
/// Python's float spelling survives a round trip), and malformed input is an error, never a
/// trap: nesting is bounded so a hostile header cannot overflow the stack.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// The literal text, already checked against the JSON number grammar.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The value as an Int if the literal is an integer (no fraction, no exponent) that fits.
    var intValue: Int? {
        guard case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        else { return nil }
        return Int(text)
    }

    var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    var stringValue: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }

    /// A short rendering for error messages (long values are cut).
    var snippet: String {
        let text = compactText()
        return text.count <= 80 ? text : String(text.prefix(77)) + "..."
    }
}

struct JSONMember: Equatable {
    var key: String
    var value: JSONValue
}

struct JSONSyntaxError: Error, CustomStringConvertible {
    /// Byte offset in the parsed text.
    let offset: Int
    let message: String
    var description: String { "\(message) at byte \(offset)" }
}

// MARK: - Parsing

struct JSONParser {
    static let maxDepth = 64

    /// Parses one JSON value from UTF-8 bytes; whitespace may surround it, nothing else.
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        if let bad = firstInvalidUTF8Offset(bytes) {
            throw JSONSyntaxError(offset: bad, message: "invalid UTF-8")
        }
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.pos == bytes.count else {
            throw JSONSyntaxError(offset: parser.pos, message: "unexpected text after the JSON value")
        }
        return value
    }

    private let bytes: [UInt8]
    private var pos = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var current: UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private func error(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: pos, message: message) }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 }
    }

    private mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard current == b else { throw error("expected '\(literal)'") }
            pos += 1
        }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        guard let c = current else { throw error("unexpected end of text") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Unicode.Scalar(c))'")
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        pos += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            pos += 1
            skipWhitespace()
            members.append(JSONMember(key: key, value: try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "}"): pos += 1; return .object(members)
            default: throw error("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        pos += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { pos += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): pos += 1
            case UInt8(ascii: "]"): pos += 1; return .array(elements)
            default: throw error("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = pos
        func digits(_ p: inout JSONParser) -> Int {
            var n = 0
            while let c = p.current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { p.pos += 1; n += 1 }
            return n
        }
        if current == UInt8(ascii: "-") { pos += 1 }
        if current == UInt8(ascii: "0") {
            pos += 1
        } else if digits(&self) == 0 {
            throw error("expected digits in number")
        }
        if current == UInt8(ascii: ".") {
            pos += 1
            guard digits(&self) > 0 else { throw error("expected digits after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            pos += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { pos += 1 }
            guard digits(&self) > 0 else { throw error("expected digits in exponent") }
        }
        return .number(String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("bad hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw error("unterminated string") }
            switch c {
            case UInt8(ascii: "\""):
                pos += 1
                // The input was validated as UTF-8 and escapes add only valid scalars.
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                pos += 1
                guard let e = current else { throw error("unterminated escape") }
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate in \\u escape") }
                        pos += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
                default:
                    pos -= 1
                    throw error("unknown escape '\\\(Unicode.Scalar(e))'")
                }
            case 0x00..<0x20:
                throw error("control character in string")
            default:
                out.append(c)
                pos += 1
            }
        }
    }

    /// Byte offset of the first ill-formed UTF-8 sequence, or nil if the bytes are valid.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}

// MARK: - Writing

extension JSONValue {
    /// Compact form with no spaces, as serde_json writes the safetensors header.
    /// Non-ASCII characters are written as UTF-8.
    func compactText() -> String {
        var out = ""
        writeCompact(into: &out)
        return out
    }

    private func writeCompact(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): JSONValue.appendQuoted(s, asciiOnly: false, into: &out)
        case .array(let elements):
            out += "["
            for (i, e) in elements.enumerated() {
                if i > 0 { out += "," }
                e.writeCompact(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += "," }
                JSONValue.appendQuoted(m.key, asciiOnly: false, into: &out)
                out += ":"
                m.value.writeCompact(into: &out)
            }
            out += "}"
        }
    }

    /// Python's `json.dumps(value, indent=2)` layout (what diffusers writes for config.json):
    /// one element per line, ", " never used, non-ASCII escaped as \uXXXX.
    /// Keys are written in the order given; sort them first to match `sort_keys=True`.
    func pythonIndentedText(indent: Int = 2) -> String {
        var out = ""
        writeIndented(into: &out, level: 0, indent: indent)
        return out
    }

    private func writeIndented(into out: inout String, level: Int, indent: Int) {
        let pad = String(repeating: " ", count: (level + 1) * indent)
        let closePad = String(repeating: " ", count: level * indent)
        switch self {
        case .array(let elements) where !elements.isEmpty:
            out += "[\n"
            for (i, e) in elements.enumerated() {
                out += pad
                e.writeIndented(into: &out, level: level + 1, indent: indent)
                out += i + 1 < elements.count ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (i, m) in members.enumerated() {
                out += pad
                JSONValue.appendQuoted(m.key, asciiOnly: true, into: &out)
                out += ": "
                m.value.writeIndented(into: &out, level: level + 1, indent: indent)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += closePad + "}"
        case .string(let s):
            JSONValue.appendQuoted(s, asciiOnly: true, into: &out)
        default:
            writeCompact(into: &out)
        }
    }

    private static func appendQuoted(_ s: String, asciiOnly: Bool, into out: inout String) {
        func hex4(_ v: UInt32) -> String {
            let h = String(v, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - h.count)) + h
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                let v = scalar.value
                if v < 0x20 || (asciiOnly && v >= 0x7F) {
                    if v >= 0x10000 {
                        let u = v - 0x10000
                        out += hex4(0xD800 + (u >> 10)) + hex4(0xDC00 + (u & 0x3FF))
                    } else {
                        out += hex4(v)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
