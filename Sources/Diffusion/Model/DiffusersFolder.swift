import Foundation

/// A model as a diffusers folder: config.json + diffusion_pytorch_model.safetensors with
/// diffusers' parameter names in PyTorch layouts, so `UNet2DModel.from_pretrained(dir)`
/// loads what we write and we load what `save_pretrained(..., safe_serialization=True)` writes.
public enum DiffusersFolder {
    public static let configName = "config.json"
    public static let weightsName = "diffusion_pytorch_model.safetensors"

    /// Writes both files, each atomically (temporary file + rename).
    public static func save(_ model: UNet2DModel, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tensors = model.store.entries.map { (name: $0.name, tensor: model.store.exportTensor($0)) }
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: directory + "/" + weightsName)
        try model.config.write(to: directory + "/" + configName)
    }

    /// Builds the model from config.json and loads every parameter, checking that the file
    /// has exactly the tensors the config implies, each with the right shape.
    public static func load(from directory: String) throws -> UNet2DModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FileError(path: directory, "not a directory: expected a diffusers model folder with \(configName) and \(weightsName)")
        }
        let config = try UNetConfig.load(contentsOf: directory + "/" + configName)
        let model = UNet2DModel(config: config)
        try loadParameters(into: model, from: directory + "/" + weightsName)
        return model
    }

    /// Loads parameters from a safetensors file into a built model.
    public static func loadParameters(into model: UNet2DModel, from path: String) throws {
        let file = try Safetensors(contentsOf: path)
        let expected = Set(model.store.entries.map(\.name))
        let missing = model.store.entries.map(\.name).filter { !file.contains($0) }
        let unexpected = file.names.filter { !expected.contains($0) }
        if !missing.isEmpty || !unexpected.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) tensor(s) the config needs: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", ..." : "")") }
            if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected tensor(s): \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? ", ..." : "")") }
            throw FileError(path: path, parts.joined(separator: "; ") + " (does config.json match these weights?)")
        }
        for e in model.store.entries {
            let t = try file.tensor(named: e.name)
            guard t.shape == e.shape else {
                throw FileError(path: path, "tensor \(e.name) has shape \(t.shape), the config needs \(e.shape)")
            }
            for i in 0..<t.count where !t[i].isFinite {
                throw FileError(path: path, "tensor \(e.name) holds a non-finite value (\(t[i])) at flat index \(i)")
            }
            model.store.importTensor(e, from: t)
        }
    }
}
