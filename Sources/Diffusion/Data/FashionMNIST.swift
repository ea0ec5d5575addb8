/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grayscale images of clothing in 10
/// classes, 60,000 for training and 10,000 for testing, as four gzip-compressed IDX files.
public enum FashionMNIST {
    public enum Split: String, CaseIterable, Sendable {
        case train, test

        /// The IDX files' prefix ("t10k" for the test split).
        public var filePrefix: String { self == .train ? "train" : "t10k" }
        public var expectedCount: Int { self == .train ? 60_000 : 10_000 }
    }

    /// Where Debian's dataset-fashion-mnist package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let rows = 28
    public static let columns = 28
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    public static func imagesPath(split: Split, directory: String = defaultDirectory) -> String {
        "\(directory)/\(split.filePrefix)-images-idx3-ubyte.gz"
    }

    public static func labelsPath(split: Split, directory: String = defaultDirectory) -> String {
        "\(directory)/\(split.filePrefix)-labels-idx1-ubyte.gz"
    }

    /// Loads and validates one split from `directory`.
    public static func load(split: Split, directory: String = defaultDirectory) throws -> Dataset {
        try load(imagesPath: imagesPath(split: split, directory: directory),
                 labelsPath: labelsPath(split: split, directory: directory),
                 expectedCount: split.expectedCount)
    }

    /// Loads an images/labels pair of IDX files and checks magic numbers, the image size
    /// (28x28), the label range (0...9), that both files hold the same number of items
    /// and, if given, that it is `expectedCount`.
    public static func load(imagesPath: String, labelsPath: String, expectedCount: Int?) throws -> Dataset {
        let images = try IDX.read(path: imagesPath, magic: IDX.imagesMagic)
        let n = images.dimensions[0]
        if let expectedCount, n != expectedCount {
            throw DataError.badCount(path: imagesPath, expected: expectedCount, found: n)
        }
        if images.dimensions[1] != rows || images.dimensions[2] != columns {
            throw DataError.badImageSize(path: imagesPath, expectedRows: rows, expectedColumns: columns,
                                         foundRows: images.dimensions[1], foundColumns: images.dimensions[2])
        }
        let labels = try IDX.read(path: labelsPath, magic: IDX.labelsMagic)
        if let expectedCount, labels.dimensions[0] != expectedCount {
            throw DataError.badCount(path: labelsPath, expected: expectedCount, found: labels.dimensions[0])
        }
        if labels.dimensions[0] != n {
            throw DataError.countMismatch(imagesPath: imagesPath, images: n, labelsPath: labelsPath, labels: labels.dimensions[0])
        }
        let validLabels = 0...(classNames.count - 1)
        if let bad = labels.values.firstIndex(where: { Int($0) > validLabels.upperBound }) {
            throw DataError.labelOutOfRange(path: labelsPath, index: bad, value: Int(labels.values[bad]), validRange: validLabels)
        }
        return Dataset(images: images.values, labels: labels.values, count: n, rows: rows, columns: columns)
    }
}

/// Raw images and labels as stored: images [count, rows, columns] of UInt8 (0 background,
/// 255 ink), labels [count] in 0...9.
public struct Dataset: Sendable {
    /// [count, rows, columns], row-major.
    public let images: [UInt8]
    public let labels: [UInt8]
    public let count: Int
    public let rows: Int
    public let columns: Int

    public init(images: [UInt8], labels: [UInt8], count: Int, rows: Int, columns: Int) {
        precondition(images.count == count * rows * columns, "\(images.count) pixels for \(count) images of \(rows)x\(columns)")
        precondition(labels.count == count, "\(labels.count) labels for \(count) images")
        self.images = images
        self.labels = labels
        self.count = count
        self.rows = rows
        self.columns = columns
    }

    public var shape: [Int] { [count, rows, columns] }

    /// The pixels of image `i`, row-major.
    public func image(_ i: Int) -> ArraySlice<UInt8> {
        images[(i * rows * columns)..<((i + 1) * rows * columns)]
    }

    public func className(_ i: Int) -> String { FashionMNIST.classNames[Int(labels[i])] }
}
