/// Validates a safetensors header against the file it came from. Every way the bytes can
/// be wrong ends in a `SafetensorsError`; nothing here traps or allocates by a size that
/// the file has not already shown it can back.
struct SafetensorsHeaderParser {
    let bytes: [UInt8]
    let path: String

    struct Parsed {
        var dataStart: Int
        var metadata: [String: String]
        var tensors: [SafetensorsTensorInfo]
    }

    private func fail(_ kind: SafetensorsError.Kind, _ tensor: String? = nil, expected: String, found: String) -> SafetensorsError {
        SafetensorsError(kind, path: path, tensor: tensor, expected: expected, found: found)
    }

    func parse() throws -> Parsed {
        // 1. Header length.
        guard bytes.count >= 8 else {
            throw fail(.truncated, expected: "at least 8 bytes (the header length)", found: "\(bytes.count) bytes")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(Safetensors.maxHeaderLength) else {
            throw fail(.headerLength, expected: "a header length of at most \(Safetensors.maxHeaderLength) bytes",
                       found: "\(length)")
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw fail(.headerLength, expected: "a header length of at most \(bytes.count - 8) (the file has \(bytes.count) bytes)",
                       found: "\(headerLength)")
        }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart

        // 2. JSON.
        let headerBytes = Array(bytes[8..<dataStart])
        if let bad = JSONParser.firstInvalidUTF8Offset(headerBytes) {
            throw fail(.headerNotUTF8, expected: "UTF-8 text", found: "an invalid byte sequence at header byte \(bad)")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch let error as JSONSyntaxError {
            throw fail(.headerNotJSON, expected: "a JSON object", found: error.description)
        }
        guard case .object(let members) = json else {
            throw fail(.headerNotObject, expected: "a JSON object mapping tensor names to entries", found: json.snippet)
        }

        // 3. Entries.
        var metadata: [String: String]? = nil
        var tensors: [SafetensorsTensorInfo] = []
        var seen = Set<String>()
        for member in members {
            guard seen.insert(member.key).inserted else {
                throw fail(.duplicateName, member.key == "__metadata__" ? nil : member.key,
                           expected: "each name once in the header", found: "\"\(member.key)\" more than once")
            }
            if member.key == "__metadata__" {
                metadata = try parseMetadata(member.value)
            } else {
                tensors.append(try parseEntry(name: member.key, member.value, dataLength: dataLength))
            }
        }

        // 4. The tensors must tile the data section: sorted by offsets, each starts where the
        // previous one ended, and the last ends at the end of the file.
        tensors.sort { a, b in
            if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound { return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound }
            if a.dataOffsets.upperBound != b.dataOffsets.upperBound { return a.dataOffsets.upperBound < b.dataOffsets.upperBound }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)  // deterministic order (and error) for ties
        }
        var cursor = 0
        var previous: SafetensorsTensorInfo? = nil
        for t in tensors {
            let begin = t.dataOffsets.lowerBound
            if begin < cursor, let previous {
                throw fail(.overlap, t.name, expected: "data starting at or after byte \(cursor), where \"\(previous.name)\" (bytes \(previous.dataOffsets.lowerBound)..<\(previous.dataOffsets.upperBound)) ends",
                           found: "bytes \(begin)..<\(t.dataOffsets.upperBound)")
            }
            if begin > cursor {
                throw fail(.gap, t.name, expected: "data starting at byte \(cursor)" + (previous.map { ", where \"\($0.name)\" ends" } ?? ""),
                           found: "bytes \(begin)..<\(t.dataOffsets.upperBound), leaving \(begin - cursor) bytes unused")
            }
            cursor = t.dataOffsets.upperBound
            previous = t
        }
        if cursor != dataLength {
            throw fail(.gap, expected: "tensors covering the whole data section of \(dataLength) bytes",
                       found: "\(dataLength - cursor) bytes after the last tensor's data")
        }
        return Parsed(dataStart: dataStart, metadata: metadata ?? [:], tensors: tensors)
    }

    private func parseMetadata(_ value: JSONValue) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw fail(.badMetadata, expected: "an object of strings", found: value.snippet)
        }
        var result: [String: String] = [:]
        for m in members {
            guard case .string(let s) = m.value else {
                throw fail(.badMetadata, expected: "a string value for key \"\(m.key)\"", found: m.value.snippet)
            }
            guard result.updateValue(s, forKey: m.key) == nil else {
                throw fail(.badMetadata, expected: "each key once", found: "\"\(m.key)\" more than once")
            }
        }
        return result
    }

    private func parseEntry(name: String, _ value: JSONValue, dataLength: Int) throws -> SafetensorsTensorInfo {
        guard case .object(let fields) = value else {
            throw fail(.wrongFieldType, name, expected: "an object with dtype, shape and data_offsets", found: value.snippet)
        }
        func field(_ key: String) throws -> JSONValue {
            let matches = fields.filter { $0.key == key }
            guard let first = matches.first else {
                throw fail(.missingField, name, expected: "a \"\(key)\" field", found: "fields \(fields.map(\.key))")
            }
            guard matches.count == 1 else {
                throw fail(.wrongFieldType, name, expected: "one \"\(key)\" field", found: "\(matches.count)")
            }
            return first.value
        }

        // dtype
        let dtypeValue = try field("dtype")
        guard case .string(let dtypeName) = dtypeValue else {
            throw fail(.wrongFieldType, name, expected: "dtype as a string", found: dtypeValue.snippet)
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw fail(.unknownDType, name, expected: "one of \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", "))",
                       found: "\"\(dtypeName)\"")
        }

        // shape
        let shapeValue = try field("shape")
        guard case .array(let dims) = shapeValue else {
            throw fail(.wrongFieldType, name, expected: "shape as an array of integers", found: shapeValue.snippet)
        }
        var shape: [Int] = []
        var elements = 1
        for d in dims {
            guard let n = d.intValue, n >= 0 else {
                throw fail(.badShape, name, expected: "non-negative integer dimensions", found: shapeValue.snippet)
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else {
                throw fail(.badShape, name, expected: "a shape whose size fits in \(Int.bitWidth) bits", found: shapeValue.snippet)
            }
            shape.append(n)
            elements = product
        }

        // data_offsets
        let offsetsValue = try field("data_offsets")
        guard case .array(let ends) = offsetsValue, ends.count == 2,
              let begin = ends[0].intValue, let end = ends[1].intValue, begin >= 0, end >= 0 else {
            throw fail(.badOffsets, name, expected: "data_offsets as two non-negative integers [begin, end]",
                       found: offsetsValue.snippet)
        }
        guard begin <= end else {
            throw fail(.offsetsReversed, name, expected: "begin <= end", found: "[\(begin), \(end)]")
        }
        guard end <= dataLength else {
            throw fail(.offsetsOutOfRange, name, expected: "offsets within the data section of \(dataLength) bytes",
                       found: "[\(begin), \(end)]")
        }

        // size
        let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bitSize)
        guard !overflow, bits % 8 == 0 else {
            throw fail(.sizeMismatch, name, expected: "a whole number of bytes for \(shape) \(dtype.rawValue)",
                       found: "\(elements) elements of \(dtype.bitSize) bits")
        }
        guard bits / 8 == end - begin else {
            throw fail(.sizeMismatch, name, expected: "\(bits / 8) bytes for shape \(shape) of \(dtype.rawValue)",
                       found: "\(end - begin) bytes (data_offsets [\(begin), \(end)])")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}
