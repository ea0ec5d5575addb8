/// Mean and unbiased covariance of a set of feature vectors: what FID compares, and what
/// pytorch-fid keeps in a statistics file (.npz with `mu` [d] and `sigma` [d, d], float64).
/// We add `n` (a 0-d float64 array, ignored by pytorch-fid) when the count is known.
public struct FeatureMoments: Sendable, Equatable {
    public let dimension: Int
    public let mean: [Double]
    /// d×d row-major, symmetric.
    public let covariance: [Double]
    /// Number of feature vectors behind the moments; nil for a statistics file without `n`.
    public let count: Int?

    public init(mean: [Double], covariance: [Double], count: Int?) throws {
        guard !mean.isEmpty, covariance.count == mean.count * mean.count else {
            throw MetricsError.dimensionMismatch(
                "moments: mean of \(mean.count) entries needs a \(mean.count)x\(mean.count) covariance, have \(covariance.count) entries")
        }
        self.dimension = mean.count
        self.mean = mean; self.covariance = covariance; self.count = count
    }

    /// From accumulated sums (needs n ≥ 2).
    public init(_ statistics: FeatureStatistics) throws {
        try self.init(mean: statistics.mean(), covariance: statistics.covariance(), count: statistics.count)
    }

    /// FID between these moments and `other`.
    public func frechetDistance(to other: FeatureMoments) throws -> Double {
        try FrechetDistance.compute(mean1: mean, covariance1: covariance, mean2: other.mean, covariance2: other.covariance)
    }

    // MARK: pytorch-fid's .npz

    public func npzArrays() -> [(name: String, array: NumpyArray)] {
        var arrays = [(name: "mu", array: NumpyArray(shape: [dimension], float64: mean)),
                      (name: "sigma", array: NumpyArray(shape: [dimension, dimension], float64: covariance))]
        if let count { arrays.append((name: "n", array: NumpyArray(shape: [], float64: [Double(count)]))) }
        return arrays
    }

    /// Writes `mu`, `sigma` (and `n`) atomically.
    public func write(npz path: String) throws {
        try NPZ.write(npzArrays(), to: path)
    }

    /// Reads a pytorch-fid style statistics file: `mu` [d], `sigma` [d, d], optional `n`.
    public static func read(npz path: String) throws -> FeatureMoments {
        let arrays = try NPZ.readDictionary(path)
        guard let mu = arrays["mu"], let sigma = arrays["sigma"] else {
            throw FileError(path: path, "expected arrays mu and sigma (pytorch-fid statistics), found \(arrays.keys.sorted())")
        }
        guard mu.shape.count == 1, mu.count >= 1, sigma.shape == [mu.count, mu.count] else {
            throw FileError(path: path, "mu has shape \(mu.shape) and sigma \(sigma.shape); expected [d] and [d, d] with d >= 1")
        }
        var count: Int?
        if let n = arrays["n"] {
            guard n.count == 1, let v = n.doubles.first, v >= 0, v == v.rounded(), v < 0x1p53 else {
                throw FileError(path: path, "n has shape \(n.shape) and values \(n.doubles.prefix(3)); expected one non-negative integer")
            }
            count = Int(v)
        }
        for (name, a) in [("mu", mu), ("sigma", sigma)] {
            if let bad = a.doubles.firstIndex(where: { !$0.isFinite }) {
                throw FileError(path: path, "\(name) holds a non-finite value at flat index \(bad)")
            }
        }
        do {
            try CovarianceCheck.validate(sigma.doubles, mean: mu.doubles, dimension: mu.count, name: "sigma")
        } catch let error as MetricsError {
            throw FileError(path: path, "\(error); expected the covariance of features (pytorch-fid statistics)")
        }
        return try FeatureMoments(mean: mu.doubles, covariance: sigma.doubles, count: count)
    }
}
