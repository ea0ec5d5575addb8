import Testing
@testable import Diffusion

/// Seeded mutations of a small valid file: every mutant either loads and is self-consistent,
/// or throws a SafetensorsError. A trap anywhere would kill the test process.
@Suite struct SafetensorsFuzzTests {
    static let mutationCount = 4000

    static func baseFile() throws -> [UInt8] {
        var random = RandomStream(seed: 1)
        func tensor(_ shape: [Int]) -> Tensor {
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t[i] = Float(random.normal()) }
            return t
        }
        return try Safetensors.serialize(payloads: [
            ("conv.weight", .float32(tensor([2, 1, 3, 3]))),
            ("conv.bias", .float32(tensor([2]))),
            ("scalar", .float32(tensor([]))),
            ("empty", .float32(tensor([0, 4]))),
            ("step", .int64(shape: [1], values: [12345])),
            ("betas", .float64(shape: [3], values: [1e-4, 5e-3, 1e-2])),
        ], metadata: ["format": "pt"])
    }

    static func headerLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 8 else { return nil }
        let n = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return n <= UInt64(bytes.count - 8) ? Int(n) : nil
    }

    static func setHeaderLength(_ bytes: inout [UInt8], _ n: UInt64) {
        guard bytes.count >= 8 else { return }
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
    }

    /// Replaces the header text, fixing the length field most of the time so the edit
    /// reaches the checks behind the JSON parser.
    static func replaceHeader(_ bytes: inout [UInt8], _ header: [UInt8], fixLength: Bool) {
        guard let n = headerLength(bytes) else { return }
        let data = Array(bytes[(8 + n)...])
        var out = Array(bytes[0..<8])
        if fixLength { setHeaderLength(&out, UInt64(header.count)) }
        bytes = out + header + data
    }

    /// Byte ranges of the JSON number tokens in a header.
    static func numberTokens(_ header: [UInt8]) -> [Range<Int>] {
        var tokens: [Range<Int>] = []
        var i = 0, inString = false
        while i < header.count {
            let c = header[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") { inString = true; i += 1; continue }
            if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
                let start = i
                while i < header.count, "-+.eE0123456789".utf8.contains(header[i]) { i += 1 }
                tokens.append(start..<i)
                continue
            }
            i += 1
        }
        return tokens
    }

    static func ranges(of needle: String, in header: [UInt8]) -> [Range<Int>] {
        let n = Array(needle.utf8)
        guard header.count >= n.count else { return [] }
        return (0...(header.count - n.count)).filter { Array(header[$0..<($0 + n.count)]) == n }.map { $0..<($0 + n.count) }
    }

    static func mutate(_ bytes: inout [UInt8], _ random: inout RandomStream) {
        func pick<T>(_ items: [T]) -> T { items[random.int(below: items.count)] }
        let header: [UInt8] = headerLength(bytes).map { Array(bytes[8..<(8 + $0)]) } ?? []
        let fixLength = random.int(below: 10) < 8
        switch random.int(below: 10) {
        case 0:  // bit flip in the header
            guard let n = headerLength(bytes), n > 0 else { return }
            bytes[8 + random.int(below: n)] ^= UInt8(1) << UInt8(random.int(below: 8))
        case 1:  // any byte anywhere
            guard !bytes.isEmpty else { return }
            bytes[random.int(below: bytes.count)] = UInt8(truncatingIfNeeded: random.next())
        case 2:  // truncation
            bytes.removeLast(random.int(below: bytes.count + 1))
        case 3:  // trailing garbage
            bytes += (0..<(1 + random.int(below: 16))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case 4:  // header length field
            let n = UInt64(headerLength(bytes) ?? 0)
            setHeaderLength(&bytes, pick([0, n &+ 1, n &- 1, n &+ 8, n &- 8, UInt64(bytes.count), UInt64.max,
                                          UInt64(100_000_001), random.next(), UInt64(random.int(below: 2 * bytes.count + 1))]))
        case 5:  // a number in the header (shape or offset)
            let tokens = numberTokens(header)
            guard !tokens.isEmpty else { return }
            let token = pick(tokens)
            let old = Int(String(decoding: header[token], as: UTF8.self)) ?? 0
            let replacement = pick(["0", "-1", "\(old + 1)", "\(old - 1)", "\(old * 2)", "\(old + 4)", "\(old - 4)", "1e3",
                                    "2.5", "-0", "18446744073709551616", "9223372036854775807", "4294967296", "007", "1.0e+2"])
            var edited = header
            edited.replaceSubrange(token, with: Array(replacement.utf8))
            replaceHeader(&bytes, edited, fixLength: fixLength)
        case 6:  // a dtype
            let places = ranges(of: "\"dtype\":\"", in: header)
            guard !places.isEmpty else { return }
            let start = pick(places).upperBound
            guard let end = header[start...].firstIndex(of: UInt8(ascii: "\"")) else { return }
            let name = pick(SafetensorsDType.allCases.map(\.rawValue) + ["F33", "", "f32", "F32\\u0000", "\\\""])
            var edited = header
            edited.replaceSubrange(start..<end, with: Array(name.utf8))
            replaceHeader(&bytes, edited, fixLength: fixLength)
        case 7:  // structure: delete, insert or duplicate text
            guard !header.isEmpty else { return }
            var edited = header
            switch random.int(below: 3) {
            case 0:
                edited.remove(at: random.int(below: edited.count))
            case 1:
                edited.insert(pick(Array("{}[],:\" -0.e\\nul".utf8)), at: random.int(below: edited.count + 1))
            default:
                // Duplicate a whole tensor entry: same name twice, or two tensors on the same bytes.
                let places = ranges(of: "},\"", in: header)
                guard places.count >= 2 else { return }
                let a = random.int(below: places.count - 1)
                let entry = Array(header[places[a].lowerBound + 2..<places[a + 1].lowerBound + 2])
                edited.insert(contentsOf: entry, at: places[a].lowerBound + 2)
            }
            replaceHeader(&bytes, edited, fixLength: fixLength)
        case 8:  // move one tensor's data_offsets, keeping its size (overlaps and gaps)
            let places = ranges(of: "\"data_offsets\":[", in: header)
            guard !places.isEmpty else { return }
            let start = pick(places).upperBound
            guard let end = header[start...].firstIndex(of: UInt8(ascii: "]")) else { return }
            let pair = String(decoding: header[start..<end], as: UTF8.self).split(separator: ",").compactMap { Int($0) }
            guard pair.count == 2 else { return }
            let delta = pick([-8, -4, -2, 2, 4, 8, pair[1] - pair[0], pair[0] - pair[1]])
            var edited = header
            edited.replaceSubrange(start..<end, with: Array("\(pair[0] + delta),\(pair[1] + delta)".utf8))
            replaceHeader(&bytes, edited, fixLength: fixLength)
        default:  // swap two data bytes (always loads, values change)
            guard let n = headerLength(bytes), bytes.count > 8 + n + 1 else { return }
            let i = 8 + n + random.int(below: bytes.count - 8 - n), j = 8 + n + random.int(below: bytes.count - 8 - n)
            bytes.swapAt(i, j)
        }
    }

    /// What a successful load promises.
    static func checkConsistent(_ file: Safetensors, _ bytes: [UInt8]) throws {
        let n = headerLength(bytes)!
        let dataLength = bytes.count - 8 - n
        #expect(Set(file.names).count == file.names.count)
        var cursor = 0
        for info in file.tensors {
            #expect(info.dataOffsets.lowerBound == cursor)
            #expect(info.dataOffsets.count * 8 == info.elementCount * info.dtype.bitSize)
            cursor = info.dataOffsets.upperBound
            do {
                let t = try file.tensor(named: info.name)
                #expect(t.shape == info.shape)
                if info.dtype == .f32 {
                    for i in 0..<t.count {
                        let at = 8 + n + info.dataOffsets.lowerBound + 4 * i
                        let raw = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
                        #expect(t[i].bitPattern == raw)
                    }
                }
            } catch let e as SafetensorsError {
                #expect(e.kind == .unsupportedConversion)
                #expect(!SafetensorsDType.convertibleToFloat.contains(info.dtype))
            }
            if info.dtype == .i64 { #expect(try file.int64Values(named: info.name).count == info.elementCount) }
            if info.dtype == .f64 { #expect(try file.doubleValues(named: info.name).count == info.elementCount) }
        }
        #expect(cursor == dataLength)
    }

    @Test func mutantsLoadConsistentlyOrThrowSafetensorsError() throws {
        let base = try Self.baseFile()
        #expect(try Safetensors(bytes: base, path: "base").tensors.count == 6)
        var random = RandomStream(seed: 20_240_601)
        var loaded = 0
        var kinds: [SafetensorsError.Kind: Int] = [:]
        for iteration in 0..<Self.mutationCount {
            var bytes = base
            for _ in 0..<(1 + (random.int(below: 4) == 0 ? random.int(below: 3) : 0)) {
                Self.mutate(&bytes, &random)
            }
            do {
                let file = try Safetensors(bytes: bytes, path: "mutant-\(iteration)")
                loaded += 1
                try Self.checkConsistent(file, bytes)
            } catch let e as SafetensorsError {
                kinds[e.kind, default: 0] += 1
                #expect(e.path == "mutant-\(iteration)")
                #expect(e.description.hasPrefix("mutant-\(iteration)"))
            } catch {
                Issue.record("mutant \(iteration): unexpected error type \(type(of: error)): \(error)")
            }
        }
        // The mutations must reach deep into validation, not stop at the JSON parser.
        #expect(loaded > Self.mutationCount / 20, "loaded \(loaded)")
        for kind: SafetensorsError.Kind in [.truncated, .headerLength, .headerNotJSON, .headerNotUTF8, .unknownDType, .badShape,
                                            .badOffsets, .offsetsReversed, .offsetsOutOfRange, .sizeMismatch, .overlap,
                                            .gap, .duplicateName] {
            #expect(kinds[kind, default: 0] > 0, "no mutant produced \(kind); got \(kinds)")
        }
    }
}
