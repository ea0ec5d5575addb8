import Testing
@testable import Diffusion

/// The parity fixture in Tests/Fixtures/tiny, written by PyTorch's safetensors (torch 2.15 +
/// diffusers 0.42.1).
@Suite struct SafetensorsFixtureTests {
    @Test func listsTheTinyModel() throws {
        let file = try Safetensors(contentsOf: PackageFixtures.tinyModel)
        #expect(file.tensors.count == 318)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.allSatisfy { $0.dtype == .f32 })
        #expect(file.tensors.reduce(0) { $0 + $1.elementCount } == 109_185)
        #expect(try file.info(named: "up_blocks.0.resnets.2.conv_shortcut.weight").shape == [16, 32, 1, 1])
        #expect(try file.info(named: "conv_in.weight").dataOffsets == 32..<320)
    }

    /// Values as Python's struct.unpack('<f') reads them from the same bytes.
    @Test func valuesMatchPython() throws {
        let file = try Safetensors(contentsOf: PackageFixtures.tinyModel)
        let convInBias = try file.tensor(named: "conv_in.bias")
        #expect(convInBias.shape == [8])
        #expect(convInBias[0] == Float(0.0836867243051529))
        #expect(convInBias[1] == Float(-0.03823031857609749))
        #expect(convInBias[7] == Float(0.15953329205513))
        let toQ = try file.tensor(named: "mid_block.attentions.0.to_q.weight")
        #expect(toQ.shape == [16, 16])
        #expect(toQ[2] == Float(0.061599355190992355))
        #expect(toQ[255] == Float(0.08943373709917068))
        let shortcut = try file.tensor(named: "up_blocks.0.resnets.2.conv_shortcut.weight")
        #expect(shortcut[1] == Float(0.0012861720751971006))
        #expect(try file.doubleValues(named: "conv_out.bias") == [Double(Float(0.08951118588447571))])
    }

    @Test func readsInt64Timesteps() throws {
        let io = try Safetensors(contentsOf: PackageFixtures.tinyIO)
        #expect(io.metadata.isEmpty)
        #expect(try io.info(named: "timestep").dtype == .i64)
        #expect(try io.int64Values(named: "timestep") == [999, 500, 17])
        #expect(try io.tensor(named: "timestep").array == [999, 500, 17])
        #expect(try io.tensor(named: "loss")[0] == Float(1.1007333993911743))
        #expect(try io.tensor(named: "sample").shape == [3, 1, 16, 16])
        #expect(throws: SafetensorsError.self) { try io.int64Values(named: "loss") }
    }

    /// Our writer, without its content hashes, reproduces the reference writer's bytes
    /// exactly: same order, same header spelling, same padding.
    @Test func rewritingTheFixtureIsByteIdentical() throws {
        let original = try FileBytes.read(PackageFixtures.tinyModel)
        let file = try Safetensors(bytes: original, path: PackageFixtures.tinyModel)
        let tensors = try file.names.reversed().map { (name: $0, payload: SafetensorsPayload.float32(try file.tensor(named: $0))) }
        let rewritten = try Safetensors.serialize(payloads: tensors, metadata: file.metadata, contentHashes: false)
        #expect(rewritten == original)

        let io = try FileBytes.read(PackageFixtures.tinyIO)
        let ioFile = try Safetensors(bytes: io, path: PackageFixtures.tinyIO)
        var payloads: [(name: String, payload: SafetensorsPayload)] = []
        for info in ioFile.tensors {
            payloads.append(info.dtype == .i64
                ? (info.name, .int64(shape: info.shape, values: try ioFile.int64Values(named: info.name)))
                : (info.name, .float32(try ioFile.tensor(named: info.name))))
        }
        #expect(try Safetensors.serialize(payloads: payloads, contentHashes: false) == io)
    }
}
