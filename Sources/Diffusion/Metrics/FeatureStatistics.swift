import CBLAS

/// Running Float64 sums of feature vectors, from which the mean and the unbiased covariance
/// follow: count n, Σx [d] and Σx xᵀ [d×d].
///
/// The sums live in one flat array, `packed` = [n, Σx (d), Σx xᵀ (d×d, row-major, symmetric)],
/// so statistics from several ranks combine with a single elementwise-sum reduction:
/// `FeatureStatistics(packed: reducedSum, dimension: d)`.
///
/// Numerical care: the covariance is formed from raw (uncentred) sums,
/// C = (Σx xᵀ − n μμᵀ)/(n − 1), which subtracts two numbers of size n(μ² + σ²) to get one of
/// size nσ². Rounding in the sums, relative size ~ε·√n (ε = 1.1e-16), is thereby amplified by
/// about (μ² + σ²)/σ². Float32 features and their pairwise products are exact in Float64
/// (24 + 24 bits ≤ 53), so summation is the only source of error. For the features we use
/// (means ~1, spreads ~1, n = 60000) the tests measure a relative error of ~1e-14; with
/// |μ|/σ = 1000 it grows to ~5e-9, and it would reach Float32 resolution (~1e-7) only near
/// |μ|/σ ~ 5000. If that ever matters, subtract one fixed reference vector (the same on
/// every rank) from the features before accumulating.
public struct FeatureStatistics: Sendable, Equatable {
    /// Feature width d.
    public let dimension: Int
    /// [n, Σx (d), Σx xᵀ (d×d, row-major, both triangles filled)]; length `packedCount(dimension:)`.
    public private(set) var packed: [Double]

    /// Length of `packed` for features of width d: 1 + d + d².
    public static func packedCount(dimension d: Int) -> Int { 1 + d + d * d }

    /// Empty statistics (n = 0) for features of width `dimension`.
    public init(dimension: Int) {
        precondition(dimension > 0, "FeatureStatistics dimension must be positive, got \(dimension)")
        self.dimension = dimension
        self.packed = [Double](repeating: 0, count: Self.packedCount(dimension: dimension))
    }

    /// Statistics from a packed array, e.g. the elementwise sum of several ranks' `packed`.
    public init(packed: [Double], dimension: Int) throws {
        guard dimension > 0 else {
            throw MetricsError.invalidArgument("FeatureStatistics dimension must be positive, got \(dimension)")
        }
        let expected = Self.packedCount(dimension: dimension)
        guard packed.count == expected else {
            throw MetricsError.dimensionMismatch(
                "packed FeatureStatistics has \(packed.count) values, expected 1 + d + d² = \(expected) for d = \(dimension)")
        }
        let n = packed[0]
        guard n >= 0, n == n.rounded(), n <= 0x1p53 else {
            throw MetricsError.invalidArgument("packed FeatureStatistics count \(n) is not a non-negative integer")
        }
        if let bad = packed.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("packed FeatureStatistics value \(bad) is \(packed[bad])")
        }
        self.dimension = dimension
        self.packed = packed
    }

    /// Number of feature vectors accumulated.
    public var count: Int { Int(packed[0]) }
    /// Σx, length d.
    public var sum: [Double] { Array(packed[1...dimension]) }
    /// Σx xᵀ, d×d row-major.
    public var outerSum: [Double] { Array(packed[(1 + dimension)...]) }

    /// Rows converted to Float64 per BLAS call: bounds the scratch buffer (2 MB at d = 256).
    private static let chunkRows = 1024

    /// Adds n feature vectors, `features` being n×d row-major Float32.
    public mutating func accumulate(features: UnsafePointer<Float>, count n: Int, dimension d: Int) throws {
        guard d == dimension else {
            throw MetricsError.dimensionMismatch("features have dimension \(d), statistics have \(dimension)")
        }
        guard n >= 0 else { throw MetricsError.invalidArgument("negative feature count \(n)") }
        if n == 0 { return }
        let rowsPerChunk = min(n, Self.chunkRows)
        let x = UnsafeMutablePointer<Double>.allocate(capacity: rowsPerChunk * d)
        defer { x.deallocate() }
        packed.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            let sum = base + 1, outer = base + 1 + d
            var start = 0
            while start < n {
                let rows = min(rowsPerChunk, n - start)
                let src = features + start * d
                for i in 0..<(rows * d) { x[i] = Double(src[i]) }
                for r in 0..<rows {
                    let row = x + r * d
                    for j in 0..<d { sum[j] += row[j] }
                }
                // Upper triangle of outer += Xᵀ X (X is rows×d row-major).
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows),
                            1.0, x, Int32(d), 1.0, outer, Int32(d))
                start += rows
            }
            // dsyrk maintains one triangle; mirror it so `packed` is the full symmetric matrix.
            for i in 0..<d { for j in 0..<i { outer[i * d + j] = outer[j * d + i] } }
            base[0] += Double(n)
        }
    }

    /// Adds the rows of a [n, d] tensor.
    public mutating func accumulate(_ features: Tensor) throws {
        guard features.shape.count == 2 else {
            throw MetricsError.dimensionMismatch("feature tensor has shape \(features.shape), expected [n, \(dimension)]")
        }
        try accumulate(features: features.data, count: features.shape[0], dimension: features.shape[1])
    }

    /// Adds another set of statistics over the same feature width (e.g. another rank's).
    public mutating func merge(_ other: FeatureStatistics) throws {
        guard other.dimension == dimension else {
            throw MetricsError.dimensionMismatch("merging statistics of dimension \(other.dimension) into \(dimension)")
        }
        for i in packed.indices { packed[i] += other.packed[i] }
    }

    /// μ = Σx / n (needs n ≥ 1).
    public func mean() throws -> [Double] {
        guard count >= 1 else { throw MetricsError.tooFewSamples("mean of FeatureStatistics needs n ≥ 1, have 0") }
        let n = packed[0]
        return sum.map { $0 / n }
    }

    /// Unbiased covariance (Σx xᵀ − n μμᵀ)/(n − 1), d×d row-major (needs n ≥ 2).
    public func covariance() throws -> [Double] {
        guard count >= 2 else {
            throw MetricsError.tooFewSamples("unbiased covariance needs n ≥ 2 feature vectors, have \(count)")
        }
        let n = packed[0], d = dimension
        let mu = try mean()
        var c = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in i..<d {
                let v = (packed[1 + d + i * d + j] - n * mu[i] * mu[j]) / (n - 1)
                c[i * d + j] = v
                c[j * d + i] = v
            }
        }
        return c
    }
}
