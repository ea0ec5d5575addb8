import Foundation

/// An images/labels pair of IDX files in MNIST's format (any such set: MNIST, Fashion-MNIST,
/// KMNIST, EMNIST...), gzip-compressed or not. `--data` names the images file, or a folder
/// holding train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]. The labels file is
/// `--labels`, or the images file's name with "images-idx3" replaced by "labels-idx1".
/// Classes are numbered 0...K-1 (K = the largest label + 1); a Fashion-MNIST-shaped set in
/// Fashion-MNIST's folder gets its class names.
public enum IDXPair {
    /// The training pair in `folder`, if there is one.
    public static func trainPaths(in folder: String) -> (images: String, labels: String)? {
        for suffix in [".gz", ""] {
            let images = folder + "/train-images-idx3-ubyte" + suffix, labels = folder + "/train-labels-idx1-ubyte" + suffix
            if FileManager.default.fileExists(atPath: images) { return (images, labels) }
        }
        return nil
    }

    public static func load(_ spec: DataSpec) throws -> TrainingData {
        let imagesPath: String, guessedLabels: String
        if let pair = trainPaths(in: spec.path) {
            (imagesPath, guessedLabels) = pair
        } else {
            imagesPath = spec.path
            guessedLabels = imagesPath.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
        }
        let labelsPath = spec.labelsPath ?? guessedLabels
        let images = try read(imagesPath, magic: IDX.imagesMagic)
        guard images.dimensions.allSatisfy({ $0 > 0 }) else {
            throw FileError(path: imagesPath, "IDX dimensions \(images.dimensions): expected [N, rows, columns], all at least 1")
        }
        let (n, h, w) = (images.dimensions[0], images.dimensions[1], images.dimensions[2])
        var data = TrainingData(images: RawImages(uniform: images.values, count: n, height: h, width: w, channels: 1),
                                labels: nil, classNames: nil, source: "IDX \(imagesPath)")
        if labelsPath != imagesPath, FileManager.default.fileExists(atPath: labelsPath) || spec.labelsPath != nil {
            let labels = try read(labelsPath, magic: IDX.labelsMagic)
            guard labels.dimensions[0] == n else {
                throw DataError.countMismatch(imagesPath: imagesPath, images: n, labelsPath: labelsPath, labels: labels.dimensions[0])
            }
            data.labels = labels.values.map(Int.init)
            let k = Int(labels.values.max() ?? 0) + 1
            let fashion = (spec.path as NSString).standardizingPath == FashionMNIST.defaultDirectory && k == 10
            data.classNames = fashion ? FashionMNIST.classNames : (0..<k).map(String.init)
        } else {
            data.notes.append("no labels file \(labelsPath): the images are unlabelled")
        }
        return data
    }

    /// An IDX file, gzip-compressed (by its signature) or plain.
    static func read(_ path: String, magic: UInt32) throws -> IDX.Contents {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path) } catch let error as FileError {
            throw DataError.cannotRead(path: path, reason: error.message)
        }
        if bytes.starts(with: [0x1F, 0x8B]) { return try IDX.decode(gzip: bytes, path: path, magic: magic) }
        let rank = Int(magic & 0xff), headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else { throw DataError.truncated(path: path, expectedBytes: headerSize, foundBytes: bytes.count) }
        let found = IDX.bigEndianUInt32(bytes, at: 0)
        guard found == magic else { throw DataError.badMagic(path: path, expected: magic, found: found) }
        let dimensions = (0..<rank).map { Int(IDX.bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
        guard let count = CheckedSize.elementCount(dimensions), count == bytes.count - headerSize else {
            throw DataError.truncated(path: path, expectedBytes: headerSize + (CheckedSize.elementCount(dimensions) ?? -1), foundBytes: bytes.count)
        }
        return IDX.Contents(dimensions: dimensions, values: Array(bytes[headerSize...]))
    }
}
