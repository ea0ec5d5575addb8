import Foundation
import Testing
@testable import Diffusion

@Suite struct SafetensorsRoundTripTests {
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetensors-tests-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

    @Test func float32RoundTripIsBitExact() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let special: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC0_1234),
                                .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude, 0.1, 1e-30]
        var random = RandomStream(seed: 7)
        let big = Tensor(shape: [4, 3, 5, 7])
        for i in 0..<big.count { big[i] = Float(bitPattern: UInt32(truncatingIfNeeded: random.next())) }
        let tensors: [(name: String, tensor: Tensor)] = [
            ("z.special", Tensor(shape: [special.count], values: special)),
            ("a.random", big),
            ("m.scalar", Tensor(shape: [], values: [3.25])),
            ("e.empty", Tensor(shape: [0, 3])),
        ]
        let path = dir + "/weights.safetensors"
        try Safetensors.write(tensors, metadata: ["format": "pt", "note": "ünïcode \"quoted\""], to: path)

        let file = try Safetensors(contentsOf: path)
        #expect(file.metadata == ["format": "pt", "note": "ünïcode \"quoted\""])
        #expect(file.names == ["a.random", "e.empty", "m.scalar", "z.special"])
        for (name, tensor) in tensors {
            let back = try file.tensor(named: name)
            #expect(back.shape == tensor.shape, "\(name)")
            #expect(Self.bits(back) == Self.bits(tensor), "\(name)")
        }
        // No temporary file left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["weights.safetensors"])
    }

    @Test func float64AndInt64AreExact() throws {
        let doubles: [Double] = [0.1, -0.0, .pi, 1e-300, .greatestFiniteMagnitude, .infinity, 1 - 1e-16]
        let ints: [Int64] = [0, -1, .max, .min, 1 << 53 + 1, 42]
        let bytes = try Safetensors.serialize(payloads: [
            ("schedule.alphas_cumprod", .float64(shape: [7], values: doubles)),
            ("rng.state", .int64(shape: [2, 3], values: ints)),
            ("w", .float32(Tensor(shape: [2], values: [1.5, -2]))),
        ])
        let file = try Safetensors(bytes: bytes, path: "mem")
        // Widest dtype first (I64 before F64 before F32), as the reference writer orders them.
        #expect(file.names == ["rng.state", "schedule.alphas_cumprod", "w"])
        #expect(try file.int64Values(named: "rng.state") == ints)
        #expect(try file.info(named: "rng.state").shape == [2, 3])
        #expect(try file.doubleValues(named: "schedule.alphas_cumprod").map(\.bitPattern) == doubles.map(\.bitPattern))
        #expect(try file.tensor(named: "schedule.alphas_cumprod")[2] == Float(Double.pi))
        #expect(try file.doubleValues(named: "w") == [1.5, -2])
    }

    @Test func headerIsPaddedToEightBytes() throws {
        for nameLength in 1...16 {
            let name = String(repeating: "x", count: nameLength)
            // Without content hashes: the reference writer's layout.
            let bytes = try Safetensors.serialize(payloads: [(name, .float32(Tensor(shape: [1])))], contentHashes: false)
            let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(n % 8 == 0)
            #expect(bytes.count == 8 + n + 4)
            let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
            #expect(header.hasPrefix("{\"\(name)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"))
            #expect(header.drop(while: { $0 != "}" }).allSatisfy { $0 == "}" || $0 == " " })
        }
    }

    @Test func writeReplacesAnExistingFileAndDictionaryFormWorks() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.safetensors"
        try Safetensors.write(["old": Tensor(shape: [3])], to: path)
        try Safetensors.write(["b": Tensor(shape: [1], values: [2]), "a": Tensor(shape: [1], values: [1])], to: path)
        let file = try Safetensors(contentsOf: path)
        #expect(file.names == ["a", "b"])
        #expect(try file.tensor(named: "b")[0] == 2)
    }

    @Test func writeErrors() throws {
        let t = Tensor(shape: [2])
        let duplicate = #expect(throws: SafetensorsError.self) {
            try Safetensors.serialize(payloads: [("a", .float32(t)), ("a", .float32(t))])
        }
        #expect(duplicate?.kind == .invalidInput)
        #expect(duplicate?.tensor == "a")
        let reserved = #expect(throws: SafetensorsError.self) {
            try Safetensors.serialize(payloads: [("__metadata__", .float32(t))])
        }
        #expect(reserved?.kind == .invalidInput)
        let mismatch = #expect(throws: SafetensorsError.self) {
            try Safetensors.serialize(payloads: [("d", .float64(shape: [2, 2], values: [1, 2, 3]))])
        }
        #expect(mismatch?.kind == .invalidInput)
        #expect(mismatch?.description.contains("4 values for shape [2, 2]") == true)
        let unwritable = #expect(throws: SafetensorsError.self) {
            try Safetensors.write([(name: "a", tensor: t)], to: "/nonexistent-dir/x.safetensors")
        }
        #expect(unwritable?.kind == .io)
        #expect(unwritable?.path == "/nonexistent-dir/x.safetensors")
    }

    // MARK: - Conversions from the dtypes PyTorch may have written

    /// A file with one tensor of the given dtype and raw little-endian bytes.
    static func singleTensorFile(dtype: String, shape: [Int], data: [UInt8]) -> [UInt8] {
        let header = "{\"t\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[0,\(data.count)]}}"
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(UInt64(header.utf8.count))
        bytes += Array(header.utf8) + data
        return bytes
    }

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { out.appendLittleEndian(v) }
        return out
    }

    @Test func convertsHalfBFloatDoubleAndIntegers() throws {
        // F16: 1, -2, 0.5, 65504 (max), smallest subnormal, -0, inf, NaN.
        let half: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x7E00]
        let f16 = try Safetensors(bytes: Self.singleTensorFile(dtype: "F16", shape: [8], data: Self.littleEndian(half)), path: "f16")
        let h = try f16.tensor(named: "t").array
        #expect(Array(h[0..<5]) == [1, -2, 0.5, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
        #expect(h[5] == 0 && h[5].sign == .minus)
        #expect(h[6] == .infinity && h[7].isNaN)
        #expect(try f16.doubleValues(named: "t")[3] == 65504)

        let bf: [UInt16] = [0x3F80, 0xC040, 0x7F80]  // 1, -3, inf
        let bf16 = try Safetensors(bytes: Self.singleTensorFile(dtype: "BF16", shape: [3], data: Self.littleEndian(bf)), path: "bf16")
        #expect(try bf16.tensor(named: "t").array == [1, -3, .infinity])

        let f64 = try Safetensors(bytes: Self.singleTensorFile(dtype: "F64", shape: [2],
                                                              data: Self.littleEndian([(0.1).bitPattern, (-1e300).bitPattern])), path: "f64")
        #expect(try f64.tensor(named: "t").array == [0.1, -.infinity])

        let i32 = try Safetensors(bytes: Self.singleTensorFile(dtype: "I32", shape: [2, 1],
                                                              data: Self.littleEndian([Int32(-7), Int32.max])), path: "i32")
        #expect(try i32.tensor(named: "t").array == [-7, Float(Int32.max)])
        #expect(try i32.tensor(named: "t").shape == [2, 1])
        #expect(try i32.int64Values(named: "t") == [-7, Int64(Int32.max)])

        let u8 = try Safetensors(bytes: Self.singleTensorFile(dtype: "U8", shape: [3], data: [1, 2, 3]), path: "u8")
        let error = #expect(throws: SafetensorsError.self) { try u8.tensor(named: "t") }
        #expect(error?.kind == .unsupportedConversion)
        #expect(error?.tensor == "t")
        #expect(error?.found == "U8")
    }
}
