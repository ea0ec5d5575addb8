import Foundation

/// A model as a diffusers folder: config.json + diffusion_pytorch_model.safetensors with
/// diffusers' parameter names in PyTorch layouts, so `UNet2DModel.from_pretrained(dir)`
/// loads what we write and we load what `save_pretrained(..., safe_serialization=True)` writes.
public enum DiffusersFolder {
    public static let configName = "config.json"
    public static let weightsName = "diffusion_pytorch_model.safetensors"

    /// Writes both files, each atomically (temporary file + rename).
    public static func save(_ model: UNet2DModel, to directory: String) throws {
        try model.store.checkFinite(before: directory + "/" + weightsName)
        try FileError.createFolder(directory)
        try Safetensors.write(model.store.exportedTensors(), metadata: ["format": "pt"], to: directory + "/" + weightsName)
        try model.config.write(to: directory + "/" + configName)
    }

    /// Builds the model from config.json and loads every parameter, checking that the file
    /// has exactly the tensors the config implies, each with the right shape. The prediction
    /// type comes from the pipeline's scheduler/ beside the folder (`PipelineSchedulerConfig`),
    /// epsilon without one.
    public static func load(from directory: String) throws -> UNet2DModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FileError(path: directory, "not a directory: expected a diffusers model folder with \(configName) and \(weightsName)")
        }
        let config = try UNetConfig.load(contentsOf: directory + "/" + configName)
        let weights = try Safetensors(contentsOf: directory + "/" + weightsName)
        try ParameterStore.checkCapacity(weights, for: config.parameterCount, config: directory + "/" + configName)
        let model = try UNet2DModel(config: config)
        try model.store.load(weights)
        model.predictionType = try PipelineSchedulerConfig.predictionType(at: PipelineSchedulerConfig.path(besideModel: directory)) ?? .epsilon
        return model
    }

    /// Loads parameters from a safetensors file into a built model.
    public static func loadParameters(into model: UNet2DModel, from path: String) throws {
        try model.store.load(safetensors: path)
    }
}
