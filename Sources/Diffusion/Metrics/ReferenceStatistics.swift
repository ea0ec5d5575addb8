import Foundation

/// Classifier features of the real Fashion-MNIST images that generated ones are compared with:
/// their moments (for FID) and a fixed random subset of their feature rows (for KID).
///
/// Computed once over the ranks and cached beside the classifier as
///   reference-<split>[-first<N>]-<fingerprint>.npz           mu, sigma, n (pytorch-fid style)
///   reference-<split>[-first<N>]-<fingerprint>-features.npy  [m, d] Float32 rows for KID
/// where the fingerprint hashes the classifier's config and weights: a retrained classifier
/// gets new cache files instead of stale statistics.
public struct ReferenceStatistics: Sendable {
    public let moments: FeatureMoments
    /// KID's reference rows, [m, d] with m = min(n, `kidRowCount`).
    public let rows: Tensor
    public let split: FashionMNIST.Split
    /// Real images behind the moments.
    public var imageCount: Int { moments.count ?? 0 }
    public let statisticsPath: String
    public let rowsPath: String
    /// Whether the statistics came from the cache rather than from the images.
    public let fromCache: Bool
    /// The user's data the statistics describe (`--reference PATH`); nil for Fashion-MNIST.
    public var dataSource: String? = nil

    /// Feature rows kept for KID (2.5 MB at d = 128). KID's subsets draw 1000 rows from them.
    public static let kidRowCount = 5000
    /// The KID rows are images permutation(n)[0..<m] of this stream, so every rank agrees.
    static let kidRowSeed: UInt64 = 0x4B1D_0000_0001

    public static func cachePaths(directory: String, split: FashionMNIST.Split, limit: Int?,
                                  fingerprint: String) -> (statistics: String, rows: String) {
        let base = "\(directory)/reference-\(split.rawValue)\(limit.map { "-first\($0)" } ?? "")-\(fingerprint)"
        return (base + ".npz", base + "-features.npy")
    }

    /// Global indices whose rows KID keeps: a random subset of min(n, kidRowCount) images.
    public static func kidRows(imageCount n: Int) -> Set<Int> {
        var rng = RandomStream(seed: kidRowSeed, key: UInt64(n))
        return Set(rng.permutation(n).prefix(kidRowCount))
    }

    /// The cached statistics if rank 0 can read them, otherwise computed over the ranks
    /// (each rank its contiguous share of the images) and written by rank 0. Collective:
    /// every rank calls it; the result is on rank 0, nil elsewhere.
    ///
    /// - Parameters:
    ///   - fingerprint: `ClassifierFolder.fingerprint` of `classifier`'s folder.
    ///   - limit: use only the first `limit` images of the split (smoke tests).
    ///   - progress: this rank's images featurized so far, and its share.
    public static func loadOrCompute(classifier: FashionClassifier, fingerprint: String, split: FashionMNIST.Split,
                                     dataDirectory: String, limit: Int? = nil, cacheDirectory: String,
                                     batchSize: Int = 256, group: Collectives,
                                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> ReferenceStatistics? {
        let paths = cachePaths(directory: cacheDirectory, split: split, limit: limit, fingerprint: fingerprint)

        // 1. rank 0 tries the cache; all ranks learn whether it worked
        var cached: ReferenceStatistics?
        if group.isRoot, FileManager.default.fileExists(atPath: paths.statistics),
           FileManager.default.fileExists(atPath: paths.rows) {
            cached = try? read(paths, split: split, dimension: classifier.featureDimension)
        }
        let hit = try group.allreduceSum([cached != nil ? 1 : 0])[0] > 0
        if hit { return cached }

        // 2. every rank featurizes its share of the real images
        let dataset = try FashionMNIST.load(split: split, directory: dataDirectory)
        let n = min(limit ?? dataset.count, dataset.count)
        let mine = EpochPlan.share(count: n, rank: group.rank, size: group.size)
        let images = Preprocess.images(dataset, indices: Array(mine))
        return try compute(localImages: images, localRange: mine, count: n, classifier: classifier, split: split,
                           cacheDirectory: cacheDirectory, paths: paths, batchSize: batchSize, group: group, progress: progress)
    }

    /// Steps 2-3 of `loadOrCompute`: every rank featurizes its share `localImages` (global
    /// indices `localRange` of `count`); rank 0 forms the moments, writes the cache files
    /// `paths` (in `cacheDirectory`) and returns the statistics (nil on the other ranks). Collective.
    static func compute(localImages images: Tensor, localRange mine: Range<Int>, count n: Int, classifier: FashionClassifier,
                        split: FashionMNIST.Split, cacheDirectory: String, paths: (statistics: String, rows: String),
                        batchSize: Int, group: Collectives,
                        progress: ((_ done: Int, _ total: Int) -> Void)?) throws -> ReferenceStatistics? {
        let keep = kidRows(imageCount: n)
        let result = try ShardedFeatures.compute(localImages: images, localRange: mine, classifier: classifier,
                                                 keepRows: { keep.contains($0) }, batchSize: batchSize, group: group,
                                                 onBatch: { progress?($0, mine.count) })
        guard group.isRoot, let rows = result.rows else { return nil }

        // 3. rank 0 forms the moments and writes the cache
        let moments = try FeatureMoments(result.statistics)
        try FileError.createFolder(cacheDirectory)
        try NPY.write(rows, to: paths.rows)
        try moments.write(npz: paths.statistics)
        return ReferenceStatistics(moments: moments, rows: rows, split: split,
                                   statisticsPath: paths.statistics, rowsPath: paths.rows, fromCache: false)
    }

    static func read(_ paths: (statistics: String, rows: String), split: FashionMNIST.Split,
                     dimension d: Int) throws -> ReferenceStatistics {
        let moments = try FeatureMoments.read(npz: paths.statistics)
        let rows = try NPY.read(paths.rows)
        guard moments.dimension == d, moments.count != nil, rows.shape.count == 2, rows.shape[1] == d else {
            throw FileError(path: paths.statistics, "cached reference of dimension \(moments.dimension) (rows \(rows.shape)) "
                            + "does not fit the classifier's \(d) features")
        }
        return ReferenceStatistics(moments: moments, rows: rows.tensor(), split: split,
                                   statisticsPath: paths.statistics, rowsPath: paths.rows, fromCache: true)
    }
}
