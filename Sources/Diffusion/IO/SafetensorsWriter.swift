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

    /// Calls `body` with the payload's bytes as the file stores them (little-endian).
    func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
        switch self {
        case .float32(let t): return try body(UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        case .float64(_, let v): return try v.withUnsafeBytes(body)
        case .int64(_, let v): return try v.withUnsafeBytes(body)
        }
        #else
        var out: [UInt8] = []
        switch self {
        case .float32(let t):
            for i in 0..<t.count { out.appendLittleEndian(t.data[i].bitPattern) }
        case .float64(_, let v):
            for x in v { out.appendLittleEndian(x.bitPattern) }
        case .int64(_, let v):
            for x in v { out.appendLittleEndian(UInt64(bitPattern: x)) }
        }
        return try out.withUnsafeBytes(body)
        #endif
    }
}

/// Calls `body` with every payload's little-endian bytes at once.
private func withLittleEndianBytes<R>(of payloads: ArraySlice<SafetensorsPayload>, _ buffers: [UnsafeRawBufferPointer] = [],
                                      _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    guard let first = payloads.first else { return body(buffers) }
    return first.withLittleEndianBytes { withLittleEndianBytes(of: payloads.dropFirst(), buffers + [$0], body) }
}

private func withLittleEndianBytes<R>(of payloads: [SafetensorsPayload], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    withLittleEndianBytes(of: payloads[...], [], body)
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
    ///
    /// With `contentHashes` (the default), `__metadata__` also holds each tensor's CRC-32
    /// (`SafetensorsHashes`), which every load verifies; `metadata` cannot use those keys.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             contentHashes: Bool = true, to path: String) throws {
        try write(payloads: tensors.map { (name: $0.name, payload: .float32($0.tensor)) }, metadata: metadata,
                  contentHashes: contentHashes, to: path)
    }

    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:],
                             contentHashes: Bool = true, to path: String) throws {
        try write(payloads: tensors.map { (name: $0.key, payload: .float32($0.value)) }, metadata: metadata,
                  contentHashes: contentHashes, to: path)
    }

    public static func write(payloads: [(name: String, payload: SafetensorsPayload)], metadata: [String: String] = [:],
                             contentHashes: Bool = true, to path: String) throws {
        let bytes = try serialize(payloads: payloads, metadata: metadata, contentHashes: contentHashes, path: path)
        do {
            try FileBytes.writeAtomically(bytes, to: path)
        } catch let failure as FileError {
            throw SafetensorsError(.io, path: path, expected: "a writable location",
                                   found: failure.message)
        }
    }

    /// The bytes `write` would put in a file; `path` is only used in error messages.
    public static func serialize(payloads: [(name: String, payload: SafetensorsPayload)], metadata: [String: String] = [:],
                                 contentHashes: Bool = true, path: String = "<memory>") throws -> [UInt8] {
        if let reserved = metadata.keys.sorted().first(where: SafetensorsHashes.isHashKey) {
            throw SafetensorsError(.invalidInput, path: path, expected: "metadata keys not starting with \"\(SafetensorsHashes.keyPrefix)\" (the writer's content hashes)",
                                   found: "\"\(reserved)\"")
        }
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

        var metadata = metadata
        if contentHashes {
            let hashes = withLittleEndianBytes(of: payloads.map(\.payload), SafetensorsHashes.hashAll)
            for ((name, _), hash) in zip(payloads, hashes) { metadata[SafetensorsHashes.key(forTensor: name)] = hash }
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
        for (_, payload) in ordered { payload.withLittleEndianBytes { out.append(contentsOf: $0) } }
        return out
    }
}
