import Foundation

/// What a model or a classifier was trained on, written as data.json in its run folder: the
/// source, the decoded set's content hash, its size and its class names. `sample --class NAME`
/// reads the names from it; a classifier refuses to score data whose record differs.
public struct DataRecord: Codable, Sendable, Equatable {
    public static let fileName = "data.json"

    /// "fashion-mnist", or the --data path.
    public var source: String
    public var kind: String
    public var count: Int
    public var channels: Int
    /// The decoded images' and labels' content hash (`TrainingData.contentHash`); nil for Fashion-MNIST.
    public var contentHash: String?
    public var classNames: [String]?
    /// The preprocessing the model saw.
    public var preprocess: PreprocessSettings?

    public init(source: String, kind: String, count: Int, channels: Int, contentHash: String?, classNames: [String]?,
                preprocess: PreprocessSettings?) {
        self.source = source; self.kind = kind; self.count = count; self.channels = channels
        self.contentHash = contentHash; self.classNames = classNames; self.preprocess = preprocess
    }

    public static let fashionMNISTSource = "fashion-mnist"

    /// The built-in training set.
    public static func fashionMNIST(count: Int) -> DataRecord {
        DataRecord(source: fashionMNISTSource, kind: "idx", count: count, channels: 1, contentHash: nil,
                   classNames: FashionMNIST.classNames, preprocess: PreprocessSettings(size: Preprocess.imageSize, channels: 1, centerCrop: true))
    }

    public init(_ data: TrainingData, spec: DataSpec, preprocess: PreprocessSettings?) {
        self.init(source: spec.path, kind: spec.kind.rawValue, count: data.count, channels: data.channels,
                  contentHash: data.contentHash, classNames: data.classNames, preprocess: preprocess)
    }

    public var isFashionMNIST: Bool { source == Self.fashionMNISTSource }

    public func write(to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileBytes.writeAtomically(Array(try encoder.encode(self)) + [10], to: folder + "/" + Self.fileName)
    }

    /// The record in `folder`, or nil when it has none (runs from before data.json: Fashion-MNIST).
    public static func read(from folder: String) throws -> DataRecord? {
        let path = folder + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(DataRecord.self, from: Data(FileBytes.read(path)))
        } catch let error as FileError {
            throw error
        } catch {
            throw FileError(path: path, "not a data record: \(error); expected the data.json a training run writes")
        }
    }

    /// The record beside a model: in the folder itself or its parent (a run folder's model/).
    public static func near(model path: String) throws -> DataRecord? {
        if let r = try read(from: path) { return r }
        // The parent by hand: Foundation's deletingLastPathComponent traps on some relative paths ("m").
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return try read(from: ".") }
        return try read(from: slash == trimmed.startIndex ? "/" : String(trimmed[..<slash]))
    }
}
