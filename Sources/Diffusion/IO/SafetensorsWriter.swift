/// What the writer can store under one name: Float32 tensors (model weights, gradients,
/// Adam moments) and exact Float64 / Int64 arrays (training state: step counters, schedule
/// values, random-stream states as bit patterns).
public enum SafetensorsPayload: Sendable {
    case float32(Tensor)
    case float64(shape: [Int], values: [Double])
    case int64(shape: [Int], values: [Int64])

    var dtype: SafetensorsDType {
        switch self {
        case .float32: return .f32
        case .float64: return .f64
        case .int64: return .i64
        }
    }

    var shape: [Int] {
        switch self {
        case .float32(let t): return t.shape
        case .float64(let shape, _), .int64(let shape, _): return shape
        }
    }

    var elementCount: Int {
        switch self {
        case .float32(let t): return t.count
        case .float64(_, let v): return v.count
        case .int64(_, let v): return v.count
        }
    }

    func appendLittleEndian(to out: inout [UInt8]) {
        #if _endian(little)
        switch self {
        case .float32(let t): out.append(contentsOf: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        case .float64(_, let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        case .int64(_, let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        #else
        switch self {
        case .float32(let t):
            for i in 0..<t.count { out.appendLittleEndian(t.data[i].bitPattern) }
        case .float64(_, let v):
            for x in v { out.appendLittleEndian(x.bitPattern) }
        case .int64(_, let v):
            for x in v { out.appendLittleEndian(UInt64(bitPattern: x)) }
        }
        #endif
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension Safetensors {
    /// Writes Float32 tensors (PyTorch layout) to `path` atomically: a temporary file in the
    /// same directory, renamed over `path` once complete.
    ///
    /// Layout as the reference writer makes it: tensors sorted by dtype (widest first) then
    /// name, header padded with spaces to a multiple of 8 bytes, `__metadata__` omitted when
    /// empty. diffusers writes `["format": "pt"]` as metadata for model files.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        try write(payloads: tensors.map { (name: $0.name, payload: .float32($0.tensor)) }, metadata: metadata, to: path)
    }

    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        try write(payloads: tensors.map { (name: $0.key, payload: .float32($0.value)) }, metadata: metadata, to: path)
    }

    public static func write(payloads: [(name: String, payload: SafetensorsPayload)], metadata: [String: String] = [:],
                             to path: String) throws {
        let bytes = try serialize(payloads: payloads, metadata: metadata, path: path)
        do {
            try FileBytes.writeAtomically(bytes, to: path)
        } catch let failure as FileError {
            throw SafetensorsError(.io, path: path, expected: "a writable location",
                                   found: failure.message)
        }
    }

    /// The bytes `write` would put in a file; `path` is only used in error messages.
    public static func serialize(payloads: [(name: String, payload: SafetensorsPayload)], metadata: [String: String] = [:],
                                 path: String = "<memory>") throws -> [UInt8] {
        var seen = Set<String>()
        for (name, payload) in payloads {
            func invalid(_ expected: String, _ found: String) -> SafetensorsError {
                SafetensorsError(.invalidInput, path: path, tensor: name, expected: expected, found: found)
            }
            guard name != "__metadata__" else { throw invalid("a tensor name other than __metadata__", "__metadata__") }
            guard seen.insert(name).inserted else { throw invalid("each name once", "the name more than once") }
            guard payload.shape.allSatisfy({ $0 >= 0 }) else { throw invalid("non-negative dimensions", "shape \(payload.shape)") }
            guard payload.shape.reduce(1, *) == payload.elementCount else {
                throw invalid("\(payload.shape.reduce(1, *)) values for shape \(payload.shape)", "\(payload.elementCount) values")
            }
        }

        let ordered = payloads.sorted { a, b in
            if a.payload.dtype != b.payload.dtype { return a.payload.dtype.rank > b.payload.dtype.rank }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }

        var members: [JSONMember] = []
        if !metadata.isEmpty {
            let entries = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            members.append(JSONMember(key: "__metadata__", value: .object(entries.map { JSONMember(key: $0.key, value: .string($0.value)) })))
        }
        var offset = 0
        for (name, payload) in ordered {
            let byteCount = payload.elementCount * payload.dtype.bitSize / 8
            members.append(JSONMember(key: name, value: .object([
                JSONMember(key: "dtype", value: .string(payload.dtype.rawValue)),
                JSONMember(key: "shape", value: .array(payload.shape.map { .number(String($0)) })),
                JSONMember(key: "data_offsets", value: .array([.number(String(offset)), .number(String(offset + byteCount))])),
            ])))
            offset += byteCount
        }
        var header = Array(JSONValue.object(members).compactText().utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        out.appendLittleEndian(UInt64(header.count))
        out.append(contentsOf: header)
        for (_, payload) in ordered { payload.appendLittleEndian(to: &out) }
        return out
    }
}
