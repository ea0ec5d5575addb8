/// A safetensors file, read whole and checked before anything is handed out.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (tensor name ->
/// {dtype, shape, data_offsets [begin, end)} and an optional `__metadata__` string map),
/// then the data section; offsets are relative to the start of the data section.
/// The checks follow the reference implementation (huggingface/safetensors): header at most
/// 100 MB, every size consistent with shape and dtype, tensors tiling the data section with
/// no overlap and no gap. Each failure is a `SafetensorsError` naming file and tensor.
/// Tensors' content hashes in the metadata (`SafetensorsHashes`) are verified on opening;
/// a file without them opens with a one-line note.
///
///     let file = try Safetensors(contentsOf: "model.safetensors")
///     let w = try file.tensor(named: "conv_in.weight")   // Float32, the file's shape
public struct Safetensors: Sendable {
    public let path: String
    /// The `__metadata__` map without the content hashes.
    public let metadata: [String: String]
    /// Each tensor's verified content hash (`SafetensorsHashes`), by name; empty for a file
    /// written without them.
    public let hashes: [String: String]
    /// Every tensor, in file order (increasing offsets).
    public let tensors: [SafetensorsTensorInfo]

    private let bytes: [UInt8]
    private let dataStart: Int
    private let indexByName: [String: Int]

    /// The reference implementation refuses larger headers; so do we, before allocating.
    public static let maxHeaderLength = 100_000_000

    public init(contentsOf path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch let failure as FileError {
            throw SafetensorsError(.io, path: path, expected: "a readable file",
                                   found: failure.message)
        }
        try self.init(bytes: bytes, path: path)
    }

    /// Parses a file already in memory; `path` is only used in error messages.
    public init(bytes: [UInt8], path: String) throws {
        let parsed = try SafetensorsHeaderParser(bytes: bytes, path: path).parse()
        let (user, hashes) = try SafetensorsHashes.split(parsed.metadata, tensors: parsed.tensors, path: path)
        try bytes.withUnsafeBytes { raw in
            try SafetensorsHashes.verify(hashes, tensors: parsed.tensors,
                                         data: UnsafeRawBufferPointer(rebasing: raw[parsed.dataStart...]), path: path)
        }
        if hashes.isEmpty && !parsed.tensors.isEmpty {
            SafetensorsHashes.noteUnhashed(path, tensorCount: parsed.tensors.count)
        }
        self.path = path
        self.bytes = bytes
        self.dataStart = parsed.dataStart
        self.metadata = user
        self.hashes = hashes
        self.tensors = parsed.tensors
        var index: [String: Int] = [:]
        for (i, t) in parsed.tensors.enumerated() { index[t.name] = i }
        self.indexByName = index
    }

    /// Tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    public func info(named name: String) throws -> SafetensorsTensorInfo {
        guard let i = indexByName[name] else {
            throw SafetensorsError(.noSuchTensor, path: path, tensor: name,
                                   expected: "one of the file's \(tensors.count) tensors", found: "no tensor of that name")
        }
        return tensors[i]
    }

    /// The tensor converted to Float32, in the file's shape (PyTorch layout for weights).
    /// F32, F16, BF16, F64, I64 and I32 convert; other dtypes throw.
    public func tensor(named name: String) throws -> Tensor {
        let info = try info(named: name)
        let tensor = Tensor(shape: info.shape)
        let ok = bytes.withUnsafeBytes { raw in
            info.dtype.decodeFloats(raw.baseAddress! + dataStart + info.dataOffsets.lowerBound,
                                    count: info.elementCount, into: tensor.data)
        }
        guard ok else { throw conversionError(info, to: "Float32", supported: SafetensorsDType.convertibleToFloat) }
        return tensor
    }

    /// Exact integer values of an I64 (or I32) tensor, flattened row-major.
    public func int64Values(named name: String) throws -> [Int64] {
        let info = try info(named: name)
        let count = info.elementCount
        return try bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + info.dataOffsets.lowerBound
            switch info.dtype {
            case .i64: return (0..<count).map { Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            case .i32: return (0..<count).map { Int64(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            default: throw conversionError(info, to: "Int64", supported: [.i64, .i32])
            }
        }
    }

    /// Exact values of an F64 tensor (F32, F16 and BF16 widen exactly too), flattened row-major.
    public func doubleValues(named name: String) throws -> [Double] {
        let info = try info(named: name)
        let count = info.elementCount
        if info.dtype == .f64 {
            return bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress! + dataStart + info.dataOffsets.lowerBound
                return (0..<count).map { Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            }
        }
        guard [.f32, .f16, .bf16].contains(info.dtype) else {
            throw conversionError(info, to: "Float64", supported: [.f64, .f32, .f16, .bf16])
        }
        return try tensor(named: name).array.map(Double.init)
    }

    private func conversionError(_ info: SafetensorsTensorInfo, to target: String, supported: [SafetensorsDType]) -> SafetensorsError {
        SafetensorsError(.unsupportedConversion, path: path, tensor: info.name,
                         expected: "a dtype convertible to \(target) (\(supported.map(\.rawValue).joined(separator: ", ")))",
                         found: info.dtype.rawValue)
    }
}

/// One tensor's entry in the header, checked.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// `data_offsets`: the byte range within the data section.
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}
