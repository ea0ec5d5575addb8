import Foundation

/// FID against your own data (`fid --reference PATH`, `sample --fid --reference PATH`, a
/// `train --data` run's evaluations): the reference statistics of a data set that `--data`
/// accepts, from a classifier trained on that kind of data.
extension ReferenceStatistics {
    /// Whether the classifier in `directory` may score images against `reference` (nil:
    /// Fashion-MNIST): its data.json (written by `train-classifier`) says what it was trained
    /// on; a folder without one is a Fashion-MNIST classifier. Refuses the Fashion-MNIST
    /// classifier for other data and a classifier of other data for Fashion-MNIST.
    public static func checkClassifier(_ directory: String, for reference: DataSpec?) throws {
        let record = try DataRecord.read(from: directory)
        let fashion = record?.isFashionMNIST ?? true
        if let reference, fashion {
            throw DataSetError("the classifier in \(directory) was trained on Fashion-MNIST: its features say nothing about "
                               + "\(reference.path), and FID with it would be meaningless. FID against your data needs a classifier "
                               + "trained on labelled images of the same kind: `launcher train-classifier --data LABELLED_PATH "
                               + "--out DIR` (a folder with one subfolder per class, a .npy with --labels, or an IDX pair), then "
                               + "--classifier DIR (docs/data.md)")
        }
        if reference == nil, !fashion, let record {
            throw DataSetError("the classifier in \(directory) was trained on \(record.source), not Fashion-MNIST: give "
                               + "--reference PATH (data of that kind), or a Fashion-MNIST classifier")
        }
    }

    /// The cache files for data whose content hash is `hash`.
    public static func cachePaths(directory: String, dataHash hash: String, limit: Int?, fingerprint: String) -> (statistics: String, rows: String) {
        let base = "\(directory)/reference-data-\(hash)\(limit.map { "-first\($0)" } ?? "")-\(fingerprint)"
        return (base + ".npz", base + "-features.npy")
    }

    /// As `loadOrCompute(split:)`, for the data `spec` (all of it, or its first `limit`
    /// images), resized and centre-cropped to the classifier's input, converted to its
    /// channels. The cache is named by the decoded set's content hash. Collective; the
    /// statistics on rank 0.
    public static func loadOrCompute(classifier: FashionClassifier, fingerprint: String, data spec: DataSpec, limit: Int?,
                                     cacheDirectory: String, batchSize: Int = 256, group: Collectives,
                                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> ReferenceStatistics? {
        let data = try TrainingDataLoader.load(spec, group: group)
        let paths = cachePaths(directory: cacheDirectory, dataHash: data.contentHash, limit: limit, fingerprint: fingerprint)
        let describe = "\(data.source)" + (limit.map { " (first \($0))" } ?? "")
        var cached: ReferenceStatistics?
        if group.isRoot, FileManager.default.fileExists(atPath: paths.statistics), FileManager.default.fileExists(atPath: paths.rows) {
            cached = try? read(paths, split: .test, dimension: classifier.featureDimension)
            cached?.dataSource = describe
        }
        let hit = try group.allreduceSum([cached != nil ? 1 : 0])[0] > 0
        if hit { return cached }

        let n = min(limit ?? data.count, data.count)
        let mine = EpochPlan.share(count: n, rank: group.rank, size: group.size)
        let settings = PreprocessSettings(size: classifier.config.imageSize, channels: classifier.config.inChannels, centerCrop: true)
        var (images, _) = try ImagePreprocess.prepare(data.images, indices: Array(mine), settings: settings)
        if images.shape[3] != classifier.config.inChannels { images = Preprocess.replicatingChannels(images, to: classifier.config.inChannels) }
        var statistics = try compute(localImages: images, localRange: mine, count: n, classifier: classifier, split: .test,
                                     cacheDirectory: cacheDirectory, paths: paths, batchSize: batchSize, group: group, progress: progress)
        statistics?.dataSource = describe
        return statistics
    }
}
