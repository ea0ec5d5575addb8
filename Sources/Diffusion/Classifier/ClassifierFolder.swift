import Foundation

/// A classifier on disk: config.json + model.safetensors (PyTorch names and layouts).
public enum ClassifierFolder {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    /// Where the committed Fashion-MNIST classifier lives, relative to the package root.
    public static let defaultDirectory = "models/fashion-classifier"

    /// Writes both files, each atomically (temporary file + rename): weights first, so a
    /// config never describes weights that are not there yet.
    public static func save(_ model: FashionClassifier, to directory: String) throws {
        try model.store.checkFinite(before: directory + "/" + weightsName)
        try FileError.createFolder(directory)
        try Safetensors.write(model.store.exportedTensors(), metadata: ["format": "pt"], to: directory + "/" + weightsName)
        try model.config.write(to: directory + "/" + configName)
    }

    /// Builds the classifier from config.json and loads its weights.
    public static func load(from directory: String) throws -> FashionClassifier {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FileError(path: directory, "not a directory: expected a classifier folder with \(configName) and \(weightsName) "
                            + "(train one with `launcher train-classifier`)")
        }
        let config = try ClassifierConfig.load(contentsOf: directory + "/" + configName)
        let weights = try Safetensors(contentsOf: directory + "/" + weightsName)
        try ParameterStore.checkCapacity(weights, for: config.parameterCount, config: directory + "/" + configName)
        let model = FashionClassifier(config: config)
        try model.store.load(weights)
        return model
    }

    /// A hash of config.json and the weights: names caches derived from this classifier,
    /// so retraining it invalidates them.
    public static func fingerprint(of directory: String) throws -> String {
        try ContentHash.ofFiles([directory + "/" + configName, directory + "/" + weightsName])
    }
}
