import Foundation
import Testing
@testable import Diffusion

/// Seeded mutants of every format read from disk (FuzzHarness.mutantCount each; set
/// FUZZ_MUTANTS for longer runs). Each mutant loads into a valid object or throws a typed
/// error naming the file and what was expected; a trap anywhere would kill the test process.
/// The `reached` checks make sure the mutations get past the first checks of each format.
@Suite struct FileFormatFuzzTests {
    // MARK: safetensors

    /// Without content hashes by default: mutants of the data then load, and reach the
    /// checks after the header's (conversions, non-finite values); `safetensorsHashed` mutates
    /// a hashed file.
    static func safetensorsBase(hashes: Bool = false) throws -> [UInt8] {
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
        ], metadata: ["format": "pt"], contentHashes: hashes)
    }

    static func headerLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 8 else { return nil }
        let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        return n <= UInt64(bytes.count - 8) ? Int(n) : nil
    }

    /// The header as text, edited text spliced back with (usually) its length fixed.
    static func safetensorsLayout(_ bytes: [UInt8]) -> FuzzLayout {
        var layout = FuzzLayout(integers: [.init(offset: 0, width: 8)], boundaries: [0, 8],
                                words: SafetensorsDType.allCases.map(\.rawValue) + ["F33", "f32", "__metadata__", "dtype", "shape", "data_offsets"])
        guard let n = headerLength(bytes) else { return layout }
        layout.text = 8..<(8 + n)
        layout.extras = [moveDataOffsets, duplicateEntry]
        layout.boundaries += [8 + n, bytes.count - 1, bytes.count - 4]
        layout.replaceText = { bytes, text, fixLength in
            guard let n = headerLength(bytes) else { return }
            let data = Array(bytes[(8 + n)...])
            var length = Array(bytes[0..<8])
            if fixLength { length = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) } }
            bytes = length + text + data
        }
        return layout
    }

    /// Moves one tensor's data_offsets keeping its size: overlaps and gaps.
    static func moveDataOffsets(_ bytes: inout [UInt8], _ mutator: inout Mutator) {
        guard let n = headerLength(bytes) else { return }
        var header = Array(bytes[8..<(8 + n)])
        let key = Array("\"data_offsets\":[".utf8)
        let places = (0..<max(0, header.count - key.count)).filter { Array(header[$0..<($0 + key.count)]) == key }
        guard !places.isEmpty else { return }
        let start = mutator.pick(places) + key.count
        guard let end = header[start...].firstIndex(of: UInt8(ascii: "]")) else { return }
        let pair = String(decoding: header[start..<end], as: UTF8.self).split(separator: ",").compactMap { Int($0) }
        guard pair.count == 2 else { return }
        let delta = mutator.pick([-8, -4, -2, 2, 4, 8, pair[1] &- pair[0], pair[0] &- pair[1]])
        header.replaceSubrange(start..<end, with: Array("\(pair[0] &+ delta),\(pair[1] &+ delta)".utf8))
        let length = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        bytes = length + header + Array(bytes[(8 + n)...])
    }

    /// Repeats one tensor's entry: the same name twice.
    static func duplicateEntry(_ bytes: inout [UInt8], _ mutator: inout Mutator) {
        guard let n = headerLength(bytes) else { return }
        var header = Array(bytes[8..<(8 + n)])
        let key = Array("},\"".utf8)
        let places = (0..<max(0, header.count - key.count)).filter { Array(header[$0..<($0 + key.count)]) == key }
        guard places.count >= 2 else { return }
        let a = mutator.random.int(below: places.count - 1)
        header.insert(contentsOf: Array(header[(places[a] + 2)..<(places[a + 1] + 2)]), at: places[a] + 2)
        let length = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        bytes = length + header + Array(bytes[(8 + n)...])
    }

    /// What a successful safetensors load promises: tensors tile the data, sizes match.
    static func checkSafetensors(_ file: Safetensors, _ bytes: [UInt8]) throws {
        let dataLength = bytes.count - 8 - headerLength(bytes)!
        #expect(Set(file.names).count == file.names.count)
        var cursor = 0
        for info in file.tensors {
            #expect(info.dataOffsets.lowerBound == cursor)
            #expect(info.dataOffsets.count * 8 == info.elementCount * info.dtype.bitSize)
            cursor = info.dataOffsets.upperBound
            if SafetensorsDType.convertibleToFloat.contains(info.dtype) {
                #expect(try file.tensor(named: info.name).shape == info.shape)
            } else {
                #expect(throws: SafetensorsError.self) { try file.tensor(named: info.name) }
            }
            if info.dtype == .i64 { #expect(try file.int64Values(named: info.name).count == info.elementCount) }
            if info.dtype == .f64 { #expect(try file.doubleValues(named: info.name).count == info.elementCount) }
        }
        #expect(cursor == dataLength)
    }

    @Test func safetensors() throws {
        let base = try Self.safetensorsBase()
        let outcome = FuzzHarness.run("safetensors", base: base, seed: 20_240_601, layout: Self.safetensorsLayout) { bytes, name in
            try Self.checkSafetensors(try Safetensors(bytes: bytes, path: name), bytes)
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["file too short", "bad header length", "not valid JSON", "not UTF-8", "unknown dtype", "bad shape",
                         "bad data_offsets", "begin after end", "out of range", "does not match shape", "overlap",
                         "not fully covered", "duplicate tensor name", "nesting deeper"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    /// With content hashes: a damaged tensor is named, and hash entries are checked.
    @Test func safetensorsHashed() throws {
        let base = try Self.safetensorsBase(hashes: true)
        let outcome = FuzzHarness.run("safetensors-hashed", base: base, seed: 20_261_206, layout: Self.safetensorsLayout) { bytes, name in
            let file = try Safetensors(bytes: bytes, path: name)
            #expect(file.hashes.count == file.tensors.count)
            try Self.checkSafetensors(file, bytes)
        }
        for fragment in ["does not match its content hash", "bad __metadata__", "bad header length", "not valid JSON"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    // MARK: config.json (U-Net and classifier)

    static func jsonLayout(words: [String]) -> ([UInt8]) -> FuzzLayout {
        { bytes in FuzzLayout(text: 0..<bytes.count, boundaries: [1, bytes.count / 2, bytes.count - 2], words: words) }
    }

    @Test func unetConfig() throws {
        let base = Array(UNetConfig.seed.toJSON().utf8)
        let words = UNetConfig.keyRules.map(\.key) + ["UNet2DModel", "DownBlock2D", "AttnDownBlock2D", "UpBlock2D",
                                                      "AttnUpBlock2D", "silu", "conv", "default", "positional", "_class_name"]
        let outcome = FuzzHarness.run("unet-config", base: base, seed: 7, layout: Self.jsonLayout(words: words)) { bytes, name in
            let config = try UNetConfig(json: bytes, path: name)
            try config.validate(path: name)
            #expect(try UNetConfig(json: Array(config.toJSON().utf8), path: name) == config)
            #expect(config.parameterCount > 0)
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["supported: an integer in", "not a UNet2DModel argument", "appears more than once", "nesting deeper",
                         "expected a JSON object", "block_out_channels", "sample_size"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    @Test func classifierConfig() throws {
        let base = Array(ClassifierConfig().toJSON().utf8)
        let words = ["FashionClassifier", "channels", "blocks_per_stage", "image_size", "in_channels", "norm_eps",
                     "norm_num_groups", "num_classes", "_class_name"]
        let outcome = FuzzHarness.run("classifier-config", base: base, seed: 8, layout: Self.jsonLayout(words: words)) { bytes, name in
            let config = try ClassifierConfig(json: bytes, path: name)
            try config.validate(path: name)
            #expect(try ClassifierConfig(json: Array(config.toJSON().utf8), path: name) == config)
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["expected an integer", "unknown key", "norm_num_groups", "image_size", "not JSON"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    // MARK: .npy and .npz

    /// The Python-dict header as text; its 16- or 32-bit length field fixed on request.
    static func npyLayout(_ bytes: [UInt8]) -> FuzzLayout {
        var layout = FuzzLayout(integers: [.init(offset: 6, width: 1), .init(offset: 8, width: 2)], boundaries: [6, 8, 10],
                                words: ["<f4", "<f8", "<i4", ">f4", "|u1", "<f2", "descr", "fortran_order", "shape", "True", "False"])
        guard bytes.count >= 10 else { return layout }
        let v2 = bytes[6] >= 2
        let start = v2 ? 12 : 10
        guard bytes.count >= start else { return layout }
        let length = v2 ? (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) } : Int(bytes[8]) | Int(bytes[9]) << 8
        if v2 { layout.integers[1] = .init(offset: 8, width: 4) }
        guard start + length <= bytes.count else { return layout }
        layout.text = start..<(start + length)
        layout.boundaries += [start + length, bytes.count - 4]
        layout.replaceText = { bytes, text, fixLength in
            let data = Array(bytes[(start + length)...])
            var head = Array(bytes[0..<start])
            if fixLength {
                for k in 0..<(start - 8) { head[8 + k] = UInt8(truncatingIfNeeded: text.count >> (8 * k)) }
            }
            bytes = head + text + data
        }
        return layout
    }

    static func checkNumpy(_ a: NumpyArray) {
        #expect(a.shape.allSatisfy { $0 >= 0 })
        #expect(CheckedSize.elementCount(a.shape) == a.doubles.count)
    }

    @Test func npy() throws {
        let base = NPY.encode(NumpyArray(shape: [2, 3, 4], float32: (0..<24).map { Float($0) - 3.5 }))
        let outcome = FuzzHarness.run("npy", base: base, seed: 11, layout: Self.npyLayout) { bytes, name in
            Self.checkNumpy(try NPY.decode(bytes, name: name))
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["not a .npy file", "truncated .npy header", "unsupported .npy version", "bad .npy header",
                         "unsupported dtype", "data bytes", "more elements than fit", "fortran_order"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    static let npzMembers: [(name: String, array: NumpyArray)] = [
        ("mu", NumpyArray(shape: [3], float64: [0.5, -1, 2])),
        ("sigma", NumpyArray(shape: [3, 3], float64: [2, 0.5, 0, 0.5, 1, 0.25, 0, 0.25, 1])),
        ("n", NumpyArray(shape: [], float64: [100])),
    ]

    /// A member's .npy, mutated and put back with a valid CRC, so the .npy checks are reached.
    static func npzMemberLayer(_ k: Int, deflate: Bool, zip64: Bool) -> FuzzLayer {
        FuzzLayer(name: "member \(k)", extract: { _ in NPY.encode(npzMembers[k].array) }, rebuild: { _, inner in
            ZipBuilder.build(npzMembers.enumerated().map { i, m in
                ZipBuilder.Member(name: m.name + ".npy", data: i == k ? inner : NPY.encode(m.array), deflate: deflate, zip64: zip64)
            }, zip64End: zip64)
        }, layout: npyLayout)
    }

    static func checkNPZ(_ arrays: [(name: String, array: NumpyArray)]) {
        for (_, a) in arrays { checkNumpy(a) }
    }

    @Test func npzStored() throws {
        let base = try NPZ.encode(Self.npzMembers)
        let outcome = FuzzHarness.run("npz", base: base, seed: 12, layout: ZipBuilder.fields,
                                      layers: (0..<3).map { Self.npzMemberLayer($0, deflate: false, zip64: false) }) { bytes, name in
            Self.checkNPZ(try NPZ.decode(bytes, name: name))
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["not a zip archive", "central directory", "local file header", "CRC-32 mismatch", "compression method",
                         "outside the file", "bad .npy header", "data bytes"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    /// numpy.savez_compressed's layout (deflated members), with zip64 sizes, offsets and end record.
    @Test func npzDeflatedZip64() throws {
        let base = ZipBuilder.build(Self.npzMembers.map { .init(name: $0.name + ".npy", data: NPY.encode($0.array), deflate: true, zip64: true) },
                                    zip64End: true)
        #expect(try NPZ.decode(base, name: "base").map(\.array) == Self.npzMembers.map(\.array))
        let outcome = FuzzHarness.run("npz-zip64", base: base, seed: 13, layout: ZipBuilder.fields,
                                      layers: (0..<3).map { Self.npzMemberLayer($0, deflate: true, zip64: true) }) { bytes, name in
            Self.checkNPZ(try NPZ.decode(bytes, name: name))
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["zip64", "corrupted compressed data", "inflates to more bytes", "outside the file", "CRC-32 mismatch",
                         "local file header", "bad .npy header"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    // MARK: IDX (Fashion-MNIST)

    /// The raw IDX inside the gzip: mutated and re-compressed, so the IDX checks are reached.
    static func idxLayer(rank: Int) -> FuzzLayer {
        FuzzLayer(name: "idx", extract: { try? Zlib.decompress($0, container: .gzip, name: "idx") },
                  rebuild: { _, inner in Zlib.compress(inner, container: .gzip, level: 1) }, layout: { bytes in
            let header = 4 + 4 * rank
            return FuzzLayout(integers: (0...rank).map { .init(offset: 4 * $0, width: 4, bigEndian: true) },
                              boundaries: [4, header, (header + bytes.count) / 2, bytes.count])
        })
    }

    static func gzipLayout(_ bytes: [UInt8]) -> FuzzLayout {
        let n = bytes.count
        return FuzzLayout(integers: n >= 18 ? [.init(offset: 3, width: 1), .init(offset: n - 8, width: 4), .init(offset: n - 4, width: 4)] : [],
                          boundaries: [2, 10, n / 2, n - 8, n - 4])
    }

    func fuzzIDX(_ label: String, magic: UInt32, dimensions: [Int], seed: UInt64) {
        var random = RandomStream(seed: seed)
        let values = (0..<dimensions.reduce(1, *)).map { _ in UInt8(random.int(below: magic == IDX.labelsMagic ? 10 : 256)) }
        let base = Zlib.compress(IDX.encode(magic: magic, dimensions: dimensions, values: values), container: .gzip, level: 6)
        let outcome = FuzzHarness.run(label, base: base, seed: seed, layout: Self.gzipLayout,
                                      layers: [Self.idxLayer(rank: dimensions.count)]) { bytes, name in
            let contents = try IDX.decode(gzip: bytes, path: name, magic: magic)
            #expect(contents.dimensions.count == dimensions.count)
            #expect(CheckedSize.elementCount(contents.dimensions) == contents.values.count)
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["corrupted gzip data", "bad magic number", "truncated", "extra bytes at the end", "more bytes than"] {
            #expect(outcome.reached(fragment), "\(label): no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }

    @Test func idxImages() { fuzzIDX("idx-images", magic: IDX.imagesMagic, dimensions: [3, 28, 28], seed: 21) }

    @Test func idxLabels() { fuzzIDX("idx-labels", magic: IDX.labelsMagic, dimensions: [40], seed: 22) }

    // MARK: training state

    /// A small model's state after one step (so Adam's moments are not zero).
    /// `hashes: false` rewrites it without content hashes (as an older version wrote it), so
    /// mutants of the data reach the non-finite check.
    static func trainingStateBase(hashes: Bool) throws -> [UInt8] {
        let trainer = try TinyTraining.trainer()
        _ = try trainer.trainStep()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TrainingCheckpoint.save(trainer, to: dir + "/state.safetensors")
        let bytes = try FileBytes.read(dir + "/state.safetensors")
        return hashes ? bytes : try rewritten(bytes, contentHashes: false)
    }

    /// The file's tensors and metadata written again, with `metadata` (or the file's own).
    static func rewritten(_ bytes: [UInt8], metadata: [String: String]? = nil, contentHashes: Bool) throws -> [UInt8] {
        let file = try Safetensors(bytes: bytes, path: "base")
        let payloads = try file.names.map { (name: $0, payload: SafetensorsPayload.float32(try file.tensor(named: $0))) }
        return try Safetensors.serialize(payloads: payloads, metadata: metadata ?? file.metadata, contentHashes: contentHashes)
    }

    /// One metadata string (options JSON, config JSON, step), mutated and written back.
    static func metadataLayer(_ key: String, hashes: Bool) -> FuzzLayer {
        FuzzLayer(name: key, extract: { bytes in
            (try? Safetensors(bytes: bytes, path: "base"))?.metadata[key].map { Array($0.utf8) }
        }, rebuild: { outer, inner in
            guard let file = try? Safetensors(bytes: outer, path: "base") else { return nil }
            var metadata = file.metadata
            metadata[key] = String(decoding: inner, as: UTF8.self)
            return try? rewritten(outer, metadata: metadata, contentHashes: hashes)
        }, layout: jsonLayout(words: ["batchSize", "epochs", "maxSteps", "timesteps", "seed", "maxLR", "beta2", "adamEps",
                                      "betaStart", "betaMax", "block_out_channels", "sample_size", "layers_per_block"]))
    }

    /// Without hashes, damaged values reach the non-finite check; with them, the hash check.
    @Test(arguments: [false, true])
    func trainingState(hashes: Bool) throws {
        let base = try Self.trainingStateBase(hashes: hashes)
        let state = try TrainingCheckpoint.load(bytes: base, path: "base")
        #expect(state.step == 1)
        let outcome = FuzzHarness.run("training-state", base: base, seed: hashes ? 32 : 31, layout: Self.safetensorsLayout,
                                      layers: ["options", "config", "step"].map { Self.metadataLayer($0, hashes: hashes) }) { bytes, name in
            let s = try TrainingCheckpoint.load(bytes: bytes, path: name)
            #expect(s.step >= 0 && (try? s.options.validate()) != nil)
            let count = s.config.parameterCount
            for t in [s.parameters, s.adamM, s.adamV] {
                #expect(t.shape == [count])
                #expect(t.array.allSatisfy { $0.isFinite })
            }
            #expect(s.adamV.array.allSatisfy { $0 >= 0 })
        }
        #expect(outcome.loaded > FuzzHarness.mutantCount / 50, "\(outcome.summary)")
        for fragment in ["metadata field 'options'", "metadata field 'step'", "metadata 'config'",
                         hashes ? "does not match its content hash" : "corrupt: tensor", "bad header length", "expected [", "missing"] {
            #expect(outcome.reached(fragment), "no mutant reached \"\(fragment)\"\n\(outcome.summary)")
        }
    }
}
