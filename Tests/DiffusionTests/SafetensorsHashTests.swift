import Foundation
import Testing
@testable import Diffusion

/// Content hashes in safetensors files (`SafetensorsHashes`): every file the project writes
/// carries one per tensor, a flipped byte in any tensor's data fails the load naming the
/// file and the tensor, and files without hashes (diffusers') still load.
@Suite struct SafetensorsHashTests {
    /// Offset of the data section in a safetensors file's bytes.
    static func dataStart(_ bytes: [UInt8]) -> Int {
        8 + Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    }

    /// Flips one bit of the byte at `offset` within tensor `name`'s data in the file at `path`.
    static func flipBit(in path: String, tensor name: String, at offset: Int = 0) throws {
        var bytes = try FileBytes.read(path)
        let info = try Safetensors(bytes: bytes, path: path).info(named: name)
        bytes[dataStart(bytes) + info.dataOffsets.lowerBound + offset] ^= 0x10
        try FileBytes.writeAtomically(bytes, to: path)
    }

    /// The error is a hash mismatch that names the file and the tensor.
    static func namesCorruption(_ error: any Error, path: String, tensor: String) -> Bool {
        guard let e = error as? SafetensorsError else { return false }
        let s = e.description
        return e.kind == .hashMismatch && e.path == path && e.tensor == tensor
            && s.contains(path) && s.contains("\"\(tensor)\"") && s.contains("CRC-32")
    }

    @Test func everyTensorHasItsCRC32InTheMetadata() throws {
        let values: [Double] = [0.5, -1, .pi]
        let bytes = try Safetensors.serialize(payloads: [
            ("w", .float32(Tensor(shape: [2, 2], values: [1, 2, 3, 4]))),
            ("d", .float64(shape: [3], values: values)),
            ("empty", .float32(Tensor(shape: [0]))),
        ], metadata: ["format": "pt"])
        // Read the raw header, as the safetensors package would.
        let header = try JSONParser.parse(Array(bytes[8..<Self.dataStart(bytes)]))
        guard case .object(let members) = header, case .object(let meta)? = members.first(where: { $0.key == "__metadata__" })?.value else {
            Issue.record("no __metadata__ object"); return
        }
        var stored: [String: String] = [:]
        for m in meta { if case .string(let s) = m.value { stored[m.key] = s } }
        // zlib's CRC-32 of the little-endian bytes (Python: format(zlib.crc32(b), "08x")).
        let w: [Float] = [1, 2, 3, 4]
        #expect(stored["crc32:w"] == Zlib.hex(w.withUnsafeBytes { Zlib.crc32($0) }))
        #expect(stored["crc32:d"] == Zlib.hex(values.withUnsafeBytes { Zlib.crc32($0) }))
        #expect(stored["crc32:empty"] == "00000000")
        #expect(stored["format"] == "pt" && stored.count == 4)
        // Known value: CRC-32 of "123456789" is cbf43926.
        #expect(Zlib.hex(Zlib.crc32(Array("123456789".utf8))) == "cbf43926")

        let file = try Safetensors(bytes: bytes, path: "mem")
        #expect(file.metadata == ["format": "pt"])
        #expect(file.hashes.count == 3)
    }

    @Test func writerRefusesMetadataKeysItReserves() throws {
        #expect(throws: SafetensorsError.self) {
            try Safetensors.serialize(payloads: [("w", .float32(Tensor(shape: [1])))], metadata: ["crc32:w": "00000000"])
        }
    }

    @Test func flippedByteInTheModelIsNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try UNet2DModel(config: TinyTraining.config)
        model.initializeParameters(seed: 1)
        try DiffusersFolder.save(model, to: dir)
        let path = dir + "/" + DiffusersFolder.weightsName
        try Self.flipBit(in: path, tensor: "conv_in.weight", at: 5)
        #expect { _ = try DiffusersFolder.load(from: dir) } throws: { Self.namesCorruption($0, path: path, tensor: "conv_in.weight") }
    }

    @Test(arguments: ["parameters", "adam.m", "adam.v"])
    func flippedByteInTheTrainingStateIsNamed(tensor: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = try TinyTraining.trainer()
        _ = try trainer.trainStep()
        let run = try TrainingRun(trainer: trainer, directory: dir, checkpointEvery: 1)
        try run.writeCheckpoint()
        #expect(try TrainingCheckpoint.load(from: run.statePath).step == 1)
        try Self.flipBit(in: run.statePath, tensor: tensor, at: 123)
        #expect { _ = try TrainingCheckpoint.load(from: run.statePath) } throws: { Self.namesCorruption($0, path: run.statePath, tensor: tensor) }
        // The model folder the same checkpoint wrote is hashed too.
        let weights = run.modelPath + "/" + DiffusersFolder.weightsName
        #expect(try Safetensors(contentsOf: weights).hashes.count == trainer.model.store.entries.count)
    }

    @Test func flippedByteInTheClassifierIsNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = FashionClassifier(config: ClassifierConfig())
        try ClassifierFolder.save(model, to: dir)
        _ = try ClassifierFolder.load(from: dir)
        let path = dir + "/" + ClassifierFolder.weightsName
        let last = try Safetensors(contentsOf: path).tensors.last!
        try Self.flipBit(in: path, tensor: last.name, at: last.dataOffsets.count - 1)
        #expect { _ = try ClassifierFolder.load(from: dir) } throws: { Self.namesCorruption($0, path: path, tensor: last.name) }
    }

    /// Every single-bit flip anywhere in a small file's data section is caught, and blamed on
    /// the tensor holding that bit.
    @Test func everyBitFlipInTheDataIsDetected() throws {
        var random = RandomStream(seed: 11)
        func tensor(_ shape: [Int]) -> Tensor {
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t[i] = Float(Int(random.next() % 1000)) / 100 - 5 }
            return t
        }
        let bytes = try Safetensors.serialize(payloads: [("a", .float32(tensor([3, 5]))), ("b", .float32(tensor([1]))),
                                                         ("c", .int64(shape: [4], values: [1, -2, 3, 1 << 40]))])
        let file = try Safetensors(bytes: bytes, path: "sweep")
        let start = Self.dataStart(bytes)
        var detected = 0
        for byte in start..<bytes.count {
            let owner = file.tensors.first { $0.dataOffsets.contains(byte - start) }!.name
            for bit in 0..<8 {
                var damaged = bytes
                damaged[byte] ^= 1 << bit
                #expect { _ = try Safetensors(bytes: damaged, path: "sweep") } throws: { Self.namesCorruption($0, path: "sweep", tensor: owner) }
                detected += 1
            }
        }
        #expect(detected == 8 * (15 * 4 + 4 + 4 * 8))
    }

    /// A whole training state (the tiny model's parameters, Adam's moments): every 61st byte
    /// of its data section flipped in turn, each load fails naming the right tensor.
    @Test func sweepOverATrainingState() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = try TinyTraining.trainer()
        _ = try trainer.trainStep()
        try TrainingCheckpoint.save(trainer, to: dir + "/state.safetensors")
        let bytes = try FileBytes.read(dir + "/state.safetensors")
        let file = try Safetensors(bytes: bytes, path: "state")
        let start = Self.dataStart(bytes)
        var tried = 0
        for byte in stride(from: start, to: bytes.count, by: 61) {
            let owner = file.tensors.first { $0.dataOffsets.contains(byte - start) }!.name
            var damaged = bytes
            damaged[byte] ^= UInt8(1 << (tried % 8))
            #expect { _ = try TrainingCheckpoint.load(bytes: damaged, path: "state") } throws: { Self.namesCorruption($0, path: "state", tensor: owner) }
            tried += 1
        }
        #expect(tried > 100)
        print("sweep over a training state: \(tried) of its \(bytes.count - start) data bytes flipped, each load refused naming the tensor")
    }

    @Test func fileWithoutHashesLoadsWithOneNote() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/plain.safetensors"
        try Safetensors.write([(name: "w", tensor: Tensor(shape: [2], values: [1, 2]))], metadata: ["format": "pt"],
                              contentHashes: false, to: path)
        let file = try Safetensors(contentsOf: path)
        #expect(file.hashes.isEmpty && file.metadata == ["format": "pt"])
        #expect(try file.tensor(named: "w").array == [1, 2])
        // Opening it noted it already: the note is not repeated.
        #expect(!SafetensorsHashes.noteUnhashed(path, tensorCount: 1))
        #expect(SafetensorsHashes.noteUnhashed(dir + "/other.safetensors", tensorCount: 1))
    }

    /// The committed diffusers-written model (Tests/Fixtures/tiny) has no hashes and loads.
    @Test func diffusersFixtureStillLoads() throws {
        let model = try DiffusersFolder.load(from: PackageFixtures.path("tiny"))
        #expect(model.store.count == 109_185)
        #expect(try Safetensors(contentsOf: PackageFixtures.tinyModel).hashes.isEmpty)
    }

    /// Hashes that cannot be right are refused, not skipped: malformed, naming no tensor, or
    /// covering only some tensors.
    @Test(arguments: [
        (#"{"__metadata__":{"crc32:a":"xyz"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, "8 lowercase hex digits"),
        (#"{"__metadata__":{"crc32:a":"3Fe5b4a1"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, "8 lowercase hex digits"),
        (#"{"__metadata__":{"crc32:zz":"00000000"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, "no tensor of that name"),
        (#"{"__metadata__":{"crc32:a":"00000000"},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
         "hashes for 1 of 2 tensors"),
    ])
    func badHashEntriesAreRefused(header: String, message: String) throws {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(UInt64(header.utf8.count))
        bytes += Array(header.utf8) + [7]
        #expect { _ = try Safetensors(bytes: bytes, path: "bad") } throws: {
            ($0 as? SafetensorsError)?.kind == .badMetadata && "\($0)".contains(message)
        }
    }
}

/// What the hashes cost on the seed model's training state (four tensors of 15,890,753
/// floats: 254 MB): serializing and opening with and without them, and writing the file,
/// printed. A measurement, not a check: run it with SAFETENSORS_HASH_COST=1.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SAFETENSORS_HASH_COST"] != nil))
struct SafetensorsHashCost {
    @Test func seedTrainingState() throws {
        let count = 15_890_753
        var random = RandomStream(seed: 5)
        let payloads: [(name: String, payload: SafetensorsPayload)] = ["parameters", "adam.m", "adam.v", "ema"].map { name in
            let t = Tensor(uninitialized: [count])
            for i in 0..<count { t[i] = Float(random.normal()) }
            return (name, .float32(t))
        }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
            try Parallel.withThreads(threads) {
                for _ in 0..<2 {
                    var hashed: [UInt8] = [], plain: [UInt8] = []
                    let writeHashed = try seconds { hashed = try Safetensors.serialize(payloads: payloads) }
                    let writePlain = try seconds { plain = try Safetensors.serialize(payloads: payloads, contentHashes: false) }
                    let readHashed = try seconds { _ = try Safetensors(bytes: hashed, path: dir + "/hashed") }
                    let readPlain = try seconds { _ = try Safetensors(bytes: plain, path: dir + "/plain") }
                    let disk = try seconds { try FileBytes.writeAtomically(hashed, to: dir + "/state.safetensors") }
                    print(String(format: "hash cost, %d MB, %d thread(s): serialize %.3f s (%.3f s without hashes), open %.3f s (%.3f s), writing the file %.3f s",
                                 hashed.count / 1_000_000, threads, writeHashed, writePlain, readHashed, readPlain, disk))
                }
            }
        }
    }
}
