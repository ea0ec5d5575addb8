import Foundation

/// Where the FID classifier and its reference-statistics cache are, wherever the launcher is
/// started from.
extension ClassifierFolder {
    /// Names a classifier folder in the environment; `--classifier` wins over it.
    public static let environmentVariable = "FASHION_DIFFUSION_CLASSIFIER"

    /// The classifier folder to use: `given` (--classifier), else the environment variable,
    /// else the committed `models/fashion-classifier` in the nearest folder above the
    /// executable's real path that has one (the package root for a built launcher), else in
    /// the current folder. When none exists the relative default is returned, and loading it
    /// reports what is missing.
    public static func locate(given: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String = CommandLine.arguments.first ?? "",
                              currentDirectory: String = FileManager.default.currentDirectoryPath) -> String {
        if let given { return given }
        if let named = environment[environmentVariable], !named.isEmpty { return named }
        var folder = URL(fileURLWithPath: executable, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true))
            .standardizedFileURL.resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates: [String] = []
        while true {
            candidates.append(folder.appendingPathComponent(defaultDirectory).path)
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        candidates.append(currentDirectory + "/" + defaultDirectory)
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/" + weightsName) } ?? defaultDirectory
    }

    /// Where reference statistics of the classifier in `directory` are cached: beside it when
    /// that folder is writable, otherwise in the user's cache ($XDG_CACHE_HOME or ~/.cache,
    /// under fashion-diffusion). Cache files are named by the classifier's fingerprint, so
    /// one cache folder serves any number of classifiers.
    public static func cacheDirectory(for directory: String,
                                      environment: [String: String] = ProcessInfo.processInfo.environment,
                                      isWritable: (String) -> Bool = { access($0, W_OK) == 0 }) -> String {
        if isWritable(directory) { return directory }
        return UserCache.directory(environment: environment)
    }
}
