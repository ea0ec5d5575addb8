import Foundation

/// FID and KID of generated images against real Fashion-MNIST, with the classifier's pooled
/// features in place of Inception's.
///
/// The generated images stay on the ranks that made them: each rank featurizes its own,
/// the Float64 sums are reduced with one collective, and rank 0 — which also holds the
/// (cached) reference statistics — computes
///   FID = |μ_g − μ_r|² + tr Σ_g + tr Σ_r − 2 tr √(Σ_g Σ_r)        (`FrechetDistance`)
///   KID = mean over subsets of the unbiased MMD² under k(x, y) = (x·y/d + 1)³
///                                                                  (`KernelInceptionDistance`)
/// KID needs feature rows: the generated ones are gathered to rank 0, the reference keeps a
/// fixed random subset of its rows in the cache.
public enum FIDEvaluation {
    public struct Settings: Sendable {
        public var classifierDirectory = ClassifierFolder.defaultDirectory
        public var reference: FashionMNIST.Split = .test
        public var dataDirectory = FashionMNIST.defaultDirectory
        /// Your data as the reference instead of a Fashion-MNIST split (docs/data.md); the
        /// classifier must have been trained on that kind of data.
        public var referenceData: DataSpec?
        /// Only the first N reference images (smoke tests).
        public var referenceLimit: Int?
        /// Where the reference statistics are cached (default: `ClassifierFolder.cacheDirectory`,
        /// the classifier's folder when writable).
        public var cacheDirectory: String?
        public var kidSubsets = 100
        /// Rows per KID subset; capped by the rows available on either side (the report
        /// gives the size used).
        public var kidSubsetSize = 1000
        public var kidSeed: UInt64 = 0
        public var batchSize = 256

        public init() {}
    }

    public struct Report: Sendable {
        public let fid: Double
        /// Mean and standard deviation of MMD² over the subsets; nil without feature rows.
        public let kid: (mean: Double, std: Double)?
        public let kidSubsets: Int, kidSubsetSize: Int
        public let samples: FeatureMoments
        public let reference: ReferenceStatistics
        public let warnings: [String]

        /// What a command prints.
        public var lines: [String] {
            let n = samples.count.map(String.init) ?? "unknown"
            var out = [
                "reference: \(reference.dataSource ?? "Fashion-MNIST " + reference.split.rawValue), \(reference.imageCount) images "
                    + "(\(reference.fromCache ? "cached" : "computed now"): \(reference.statisticsPath))",
                "samples: n = \(n), feature width \(samples.dimension)",
                "FID: " + format(fid),
            ]
            if let kid {
                out.append("KID: \(format(kid.mean)) ± \(format(kid.std)) (\(kidSubsets) subsets of \(kidSubsetSize))")
            } else {
                out.append("KID: not available (needs the generated feature rows, not only their statistics)")
            }
            return out + warnings.map { "warning: " + $0 }
        }

        private func format(_ v: Double) -> String {
            abs(v) >= 0.01 || v == 0 ? String(format: "%.4f", v) : String(format: "%.3e", v)
        }
    }

    /// Progress of a phase ("reference" or "samples"): this rank's images done and its share.
    public typealias Progress = (_ phase: String, _ done: Int, _ total: Int) -> Void

    /// Generated images spread over the ranks: `localImages` ([m, 32, 32, 1] in [-0.5, 0.5])
    /// are this rank's, global indices `localRange` (ranks in ascending order). Collective;
    /// the report is on rank 0, nil elsewhere.
    public static func evaluate(localImages: Tensor, localRange: Range<Int>, settings: Settings,
                                group: Collectives, progress: Progress? = nil) throws -> Report? {
        let (classifier, reference) = try prepare(settings, group: group, progress: progress)
        let c = classifier.config
        guard localImages.shape.count == 4, localImages.shape[3] == c.inChannels,
              localImages.shape[1] == c.imageSize, localImages.shape[2] == c.imageSize else {
            throw MetricsError.dimensionMismatch("images of shape \(localImages.shape) (NHWC); the classifier in "
                                                 + "\(settings.classifierDirectory) takes \(c.imageSize)x\(c.imageSize) images "
                                                 + "of \(c.inChannels) channel(s), as it was trained")
        }
        let result = try ShardedFeatures.compute(localImages: localImages, localRange: localRange, classifier: classifier,
                                                 batchSize: settings.batchSize, group: group,
                                                 onBatch: { progress?("samples", $0, localRange.count) })
        guard let reference, let rows = result.rows else { return nil }
        let n = result.statistics.count
        guard n >= 2 else {
            throw MetricsError.tooFewSamples("FID needs at least 2 generated images, have \(n)")
        }
        let samples = try FeatureMoments(result.statistics)
        let m = min(settings.kidSubsetSize, n, reference.rows.shape[0])
        let kid = try KernelInceptionDistance.compute(real: reference.rows.array, generated: rows.array,
                                                      dimension: samples.dimension, subsets: settings.kidSubsets,
                                                      subsetSize: m, seed: settings.kidSeed)
        return Report(fid: try samples.frechetDistance(to: reference.moments), kid: kid,
                      kidSubsets: settings.kidSubsets, kidSubsetSize: m, samples: samples, reference: reference,
                      warnings: warnings(samples: samples))
    }

    /// Statistics computed elsewhere (a pytorch-fid style .npz, read by rank 0; nil on the
    /// other ranks): FID only. Collective.
    public static func evaluate(moments: FeatureMoments?, settings: Settings, group: Collectives,
                                progress: Progress? = nil) throws -> Report? {
        let (classifier, reference) = try prepare(settings, group: group, progress: progress)
        guard let reference, let moments else { return nil }
        guard moments.dimension == classifier.featureDimension else {
            throw MetricsError.dimensionMismatch(
                "the statistics have \(moments.dimension) features, the classifier in \(settings.classifierDirectory) makes \(classifier.featureDimension)")
        }
        return Report(fid: try moments.frechetDistance(to: reference.moments), kid: nil, kidSubsets: 0, kidSubsetSize: 0,
                      samples: moments, reference: reference,
                      warnings: warnings(samples: moments))
    }

    /// The classifier (every rank) and the reference statistics (rank 0).
    static func prepare(_ settings: Settings, group: Collectives,
                        progress: Progress?) throws -> (FashionClassifier, ReferenceStatistics?) {
        let classifier = try group.together { () throws -> FashionClassifier in
            try ReferenceStatistics.checkClassifier(settings.classifierDirectory, for: settings.referenceData)
            return try ClassifierFolder.load(from: settings.classifierDirectory)
        }
        // Rank 0's fingerprint names the cache (the ranks read the same folder).
        let fingerprint = try group.broadcast(group.isRoot ? ClassifierFolder.fingerprint(of: settings.classifierDirectory) : "")
        if let spec = settings.referenceData {
            let reference = try ReferenceStatistics.loadOrCompute(
                classifier: classifier, fingerprint: fingerprint, data: spec, limit: settings.referenceLimit,
                cacheDirectory: settings.cacheDirectory ?? ClassifierFolder.cacheDirectory(for: settings.classifierDirectory),
                batchSize: settings.batchSize, group: group, progress: { progress?("reference", $0, $1) })
            return (classifier, reference)
        }
        let reference = try ReferenceStatistics.loadOrCompute(
            classifier: classifier, fingerprint: fingerprint, split: settings.reference,
            dataDirectory: settings.dataDirectory, limit: settings.referenceLimit,
            cacheDirectory: settings.cacheDirectory ?? ClassifierFolder.cacheDirectory(for: settings.classifierDirectory), batchSize: settings.batchSize,
            group: group, progress: { progress?("reference", $0, $1) })
        return (classifier, reference)
    }

    static func warnings(samples: FeatureMoments) -> [String] {
        var out: [String] = []
        let d = samples.dimension
        if let n = samples.count, n < d {
            out.append("n = \(n) generated images is smaller than the feature width \(d): their covariance has rank at most "
                       + "\(n - 1), so FID is biased upwards and not comparable across n; use at least \(d) images "
                       + "(preferably thousands)")
        } else if samples.count == nil {
            out.append("the statistics file has no n: cannot tell whether its covariance is rank-deficient")
        }
        return out
    }
}
