import Foundation
import Testing
@testable import Diffusion

/// A model or optimizer state holding NaN or infinity is never saved (the last good files stay
/// as they were), and a checkpoint holding one is refused as corrupt, naming the tensor.
@Suite struct NonFiniteSaveTests {
    /// A run folder with one good checkpoint, its files' bytes, and the run.
    func runWithCheckpoint() throws -> (run: TrainingRun, files: [String: [UInt8]], dir: String) {
        let dir = try temporaryDirectory()
        let trainer = try TinyTraining.trainer()
        _ = try trainer.trainStep()
        let run = try TrainingRun(trainer: trainer, directory: dir, checkpointEvery: 1)
        try run.writeCheckpoint()
        return (run, try snapshot(dir), dir)
    }

    /// Every regular file under `dir`, by relative path.
    func snapshot(_ dir: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                files[name] = try FileBytes.read(dir + "/" + name)
            }
        }
        return files
    }

    @Test(arguments: ["parameters", "adam.m", "adam.v"])
    func nonFiniteStateIsNotSaved(tensor: String) throws {
        let (run, before, dir) = try runWithCheckpoint()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = run.trainer.model.store
        let entry = store.entries[store.entries.count / 2]
        let buffer = tensor == "parameters" ? store.values : tensor == "adam.m" ? run.trainer.adam.m : run.trainer.adam.v
        buffer[entry.offset + 1] = tensor == "adam.v" ? .infinity : .nan
        do {
            try run.writeCheckpoint()
            Issue.record("a checkpoint with a non-finite \(tensor) was written")
        } catch let error as NonFiniteParametersError {
            #expect(error.tensor == tensor && error.parameter == entry.name && error.index == 1, "\(error)")
            #expect(error.description.contains(entry.name) && error.description.contains(run.statePath), "\(error)")
        }
        // Nothing changed on disk: the last good checkpoint is whole and loads.
        #expect(try snapshot(dir) == before)
        #expect(try TrainingCheckpoint.load(from: run.statePath).step == 1)
    }

    @Test func nonFiniteModelIsNotSaved() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try UNet2DModel(config: TinyTraining.config)
        model.initializeParameters(seed: 1)
        try DiffusersFolder.save(model, to: dir)
        let before = try snapshot(dir)
        model.store.values[model.store.count - 1] = -.infinity
        let error = #expect(throws: NonFiniteParametersError.self) { try DiffusersFolder.save(model, to: dir) }
        #expect(error?.parameter == model.store.entries.last?.name, "\(String(describing: error))")
        #expect(try snapshot(dir) == before)
    }

    /// A state file holding NaN (written by hand, as a damaged or foreign file would be).
    @Test(arguments: ["parameters", "adam.m", "adam.v"])
    func loadingANonFiniteCheckpointNamesTheTensor(tensor: String) throws {
        let (run, _, dir) = try runWithCheckpoint()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try Safetensors(contentsOf: run.statePath)
        let store = run.trainer.model.store
        let entry = store.entries[3]
        let tensors = try file.names.map { name -> (name: String, tensor: Tensor) in
            let t = try file.tensor(named: name)
            if name == tensor { t[entry.offset + 2] = .nan }
            return (name, t)
        }
        try Safetensors.write(tensors, metadata: file.metadata, to: run.statePath)
        let error = #expect(throws: FileError.self) { try TrainingCheckpoint.load(from: run.statePath) }
        let message = error?.description ?? ""
        #expect(message.contains(run.statePath) && message.contains("corrupt") && message.contains("'\(tensor)'")
                && message.contains(entry.name) && message.contains("nan"), "\(message)")
    }

    @Test func negativeSecondMomentIsCorrupt() throws {
        let (run, _, dir) = try runWithCheckpoint()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try Safetensors(contentsOf: run.statePath)
        let tensors = try file.names.map { name -> (name: String, tensor: Tensor) in
            let t = try file.tensor(named: name)
            if name == "adam.v" { t[0] = -1 }
            return (name, t)
        }
        try Safetensors.write(tensors, metadata: file.metadata, to: run.statePath)
        #expect { try TrainingCheckpoint.load(from: run.statePath) } throws: {
            "\($0)".contains("'adam.v'") && "\($0)".contains("non-negative")
        }
    }
}
