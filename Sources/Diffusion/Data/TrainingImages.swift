/// The images a run trains on, as the trainer takes its batches from them: the whole set
/// prepared once into a Float32 tensor held in memory, or streamed, each rank preparing only
/// its own samples of each batch from the decoded 8-bit images (mapped from the on-disk
/// decoded cache, `DecodedCache`) when the tensor would take too much memory. Both give the
/// same batches bit for bit: the same per-image preprocessing, the same crop and flip draws.
public enum TrainingImages {
    /// [n, S, L, C] (`ImagePreprocess.Layout`), and the crops and flips that make samples of it.
    case prepared(Tensor, augmentation: BatchAugmentation?)
    case streamed(StreamedImages)

    /// [n, S, L, C].
    public var shape: [Int] {
        switch self {
        case .prepared(let tensor, _): return tensor.shape
        case .streamed(let images): return images.layout.shape
        }
    }

    public var count: Int { shape[0] }

    /// The prepared tensor; nil when streamed.
    public var tensor: Tensor? {
        if case .prepared(let tensor, _) = self { return tensor }
        return nil
    }

    public var augmentation: BatchAugmentation? {
        switch self {
        case .prepared(_, let augmentation): return augmentation
        case .streamed(let images): return images.augmentation
        }
    }

    /// The same with an identity augmentation dropped.
    func withoutIdentity() -> TrainingImages {
        if case .prepared(let tensor, let augmentation) = self, augmentation?.isIdentity == true { return .prepared(tensor, augmentation: nil) }
        return self
    }

    /// What the images hold in this process's memory: the tensor, or the decoded images when
    /// they are not mapped (a streamed batch is counted with the step's activations).
    public var residentBytes: CheckedSize {
        switch self {
        case .prepared(let tensor, _): return CheckedSize.product(tensor.shape) * 4
        case .streamed(let images): return CheckedSize(images.images.mappedPath == nil ? images.images.byteCount : 0)
        }
    }

    /// Bytes of one streamed batch of `count` samples: the prepared rows and the samples cut
    /// from them (0 for the prepared tensor, whose batches are the samples alone).
    public func batchBytes(count: Int) -> CheckedSize {
        guard case .streamed(let images) = self else { return 0 }
        let l = images.layout
        return CheckedSize.product([count, l.size, l.length, l.channels]) * 4
    }

    /// Samples `indices` of the set as [k, S, S, C], sample k cut with the draws of stream key
    /// `keys[k]` (`BatchAugmentation`).
    func batch(indices: [Int], keys: [UInt64], seed: UInt64) -> Tensor {
        switch self {
        case .prepared(let tensor, let augmentation):
            return augmentation.map { $0.batch(from: tensor, indices: indices, keys: keys, seed: seed) } ?? tensor.gather(indices)
        case .streamed(let images):
            return images.batch(indices: indices, keys: keys, seed: seed)
        }
    }
}

/// Training images prepared batch by batch from the decoded images.
public struct StreamedImages {
    /// The decoded images (the first `layout.shape[0]` are trained on).
    public let images: RawImages
    public let layout: ImagePreprocess.Layout
    let augmentation: BatchAugmentation?
    /// 0..<count: the images the layout's slots are.
    private let indices: [Int]

    public init(_ images: RawImages, count: Int, settings: PreprocessSettings) throws {
        self.images = images
        indices = Array(0..<count)
        layout = try ImagePreprocess.layout(images, indices: indices, settings: settings)
        let augmentation = layout.augmentation(randomFlip: settings.randomFlip)
        self.augmentation = augmentation.isIdentity ? nil : augmentation
    }

    func batch(indices: [Int], keys: [UInt64], seed: UInt64) -> Tensor {
        let rows = ImagePreprocess.prepare(images, indices: self.indices, slots: indices, layout: layout)
        guard let augmentation else { return rows }
        return augmentation.batch(from: rows, rows: Array(indices.indices), indices: indices, keys: keys, seed: seed)
    }
}
