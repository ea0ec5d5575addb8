import Foundation
import Testing
@testable import Diffusion

@Suite struct CheckpointTests {
    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func randomBatch(_ n: Int, size: Int) -> (Tensor, [Float]) {
        var rng = RandomStream(seed: 11)
        let x = Tensor(shape: [n, size, size, 1])
        rng.fillNormal(x.data, count: x.count)
        return (x, (0..<n).map { _ in Float(rng.int(below: 1000)) })
    }

    @Test func saveThenLoadGivesIdenticalPredictions() throws {
        let model = try UNet2DModel(config: .tiny)
        model.initializeParameters(seed: 5)
        let dir = temporaryDirectory()
        try DiffusersFolder.save(model, to: dir)
        let loaded = try DiffusersFolder.load(from: dir)
        #expect(loaded.config == model.config)
        let (x, t) = randomBatch(2, size: 16)
        #expect(try model.forward(x, timesteps: t).array == loaded.forward(x, timesteps: t).array)
    }

    @Test func missingAndUnexpectedTensorsAreNamed() throws {
        let model = try UNet2DModel(config: .tiny)
        let dir = temporaryDirectory()
        try DiffusersFolder.save(model, to: dir)
        let path = dir + "/" + DiffusersFolder.weightsName
        let file = try Safetensors(contentsOf: path)
        var tensors = try file.names.filter { $0 != "conv_out.bias" }.map { (name: $0, tensor: try file.tensor(named: $0)) }
        tensors.append((name: "extra.weight", tensor: Tensor(shape: [2])))
        try Safetensors.write(tensors, to: path)
        #expect {
            _ = try DiffusersFolder.load(from: dir)
        } throws: { error in
            let s = "\(error)"
            return s.contains("conv_out.bias") && s.contains("extra.weight") && s.contains(path)
        }
    }

    /// A config.json asking for a far larger model than its weights hold is refused before
    /// the model is built (no allocation the file could never fill).
    @Test func oversizedConfigIsRefusedBeforeBuilding() throws {
        let model = try UNet2DModel(config: .tiny)
        let dir = temporaryDirectory()
        try DiffusersFolder.save(model, to: dir)
        var huge = UNetConfig.tiny
        huge.blockOutChannels = [32768, 32768, 32768]
        huge.normNumGroups = 8
        try huge.write(to: dir + "/" + DiffusersFolder.configName)
        #expect {
            _ = try DiffusersFolder.load(from: dir)
        } throws: { "\($0)".contains(DiffusersFolder.weightsName) && "\($0)".contains("describes a model of") }
    }

    @Test func wrongShapeIsNamed() throws {
        let model = try UNet2DModel(config: .tiny)
        let dir = temporaryDirectory()
        try DiffusersFolder.save(model, to: dir)
        let path = dir + "/" + DiffusersFolder.weightsName
        let file = try Safetensors(contentsOf: path)
        let tensors = try file.names.map { name in
            (name: name, tensor: name == "conv_in.bias" ? Tensor(shape: [3]) : try file.tensor(named: name))
        }
        try Safetensors.write(tensors, to: path)
        #expect {
            _ = try DiffusersFolder.load(from: dir)
        } throws: { "\($0)".contains("conv_in.bias") && "\($0)".contains("[3]") }
    }

    @Test(.kernelThreads(1)) func nonFiniteLossStopsTraining() throws {
        var config = UNetConfig.tiny
        config.sampleSize = 8
        let model = try UNet2DModel(config: config)
        model.initializeParameters(seed: 1)
        let images = Tensor(shape: [4, 8, 8, 1])
        images[3] = .nan
        var options = TrainingOptions()
        options.batchSize = 4
        let trainer = try Trainer(model: model, images: images, options: options, group: SingleProcess())
        let before = model.store.valueArray
        #expect {
            _ = try trainer.trainStep()
        } throws: { "\($0)".contains("step 0") }
        // The failed step did not touch the parameters.
        #expect(model.store.valueArray == before)
    }

    @Test(.kernelThreads(1)) func trainingStateRoundTrip() throws {
        var config = UNetConfig.tiny
        config.sampleSize = 8
        let model = try UNet2DModel(config: config)
        model.initializeParameters(seed: 1)
        var rng = RandomStream(seed: 2)
        let images = Tensor(shape: [8, 8, 8, 1])
        for i in 0..<images.count { images[i] = Float(rng.uniform() - 0.5) }
        var options = TrainingOptions()
        options.batchSize = 4
        let trainer = try Trainer(model: model, images: images, options: options, group: SingleProcess())
        _ = try trainer.trainStep()
        let path = temporaryDirectory() + "/state.safetensors"
        try TrainingCheckpoint.save(trainer, to: path)
        let state = try TrainingCheckpoint.load(from: path)
        #expect(state.step == 1)
        #expect(state.options == options)
        #expect(state.config == config)
        #expect(state.parameters.array == model.store.valueArray)
        #expect(state.adamM.array == Array(UnsafeBufferPointer(start: trainer.adam.m, count: model.store.count)))
    }
}
