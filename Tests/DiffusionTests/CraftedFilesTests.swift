import Foundation
import Testing
@testable import Diffusion

/// Hand-made hostile files that once crashed `launcher fid`, and FID statistics that are
/// not covariances: each is refused with an error naming the file.
@Suite struct CraftedFilesTests {
    static let mu = NumpyArray(shape: [2], float64: [0.5, -1])
    static let sigma = NumpyArray(shape: [2, 2], float64: [2, 0.5, 0.5, 1])

    /// A deflated zip64 .npz of mu and sigma (numpy.savez_compressed's layout).
    static func zip64Statistics() -> [UInt8] {
        ZipBuilder.build([("mu", mu), ("sigma", sigma)].map {
            .init(name: $0.0 + ".npy", data: NPY.encode($0.1), deflate: true, zip64: true)
        }, zip64End: true)
    }

    /// Offset of the n-th occurrence of a zip signature.
    static func record(_ bytes: [UInt8], _ signature: UInt32, occurrence n: Int = 0) -> Int {
        let s = (0..<4).map { UInt8(truncatingIfNeeded: signature >> (8 * UInt32($0))) }
        return (0...(bytes.count - 4)).filter { Array(bytes[$0..<($0 + 4)]) == s }[n]
    }

    static func put64(_ bytes: inout [UInt8], at i: Int, _ v: UInt64) {
        for k in 0..<8 { bytes[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
    }

    func withFile<T>(_ bytes: [UInt8], name: String, _ body: (String) throws -> T) throws -> T {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + name
        try FileBytes.writeAtomically(bytes, to: path)
        return try body(path)
    }

    /// What `launcher fid` does with a statistics file; the error must name it and say `fragment`.
    func expectStatisticsRefused(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try withFile(bytes, name: "stats.npz") { path in
            do {
                _ = try FeatureMoments.read(npz: path)
                Issue.record("\(fragment): loaded", sourceLocation: sourceLocation)
            } catch let error as FileError {
                #expect(error.description.contains(path), "\(error)", sourceLocation: sourceLocation)
                #expect(error.description.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func zip64BuilderMakesAValidArchive() throws {
        let moments = try withFile(Self.zip64Statistics(), name: "ok.npz") { try FeatureMoments.read(npz: $0) }
        #expect(moments.mean == Self.mu.doubles && moments.covariance == Self.sigma.doubles)
    }

    @Test func craftedZip64LocalHeaderOffset() throws {
        // The zip64 extra field of sigma's central entry: id, length, size, compressed size, offset.
        let base = Self.zip64Statistics()
        let entry = Self.record(base, 0x0201_4b50, occurrence: 1)
        let offsetField = entry + 46 + "sigma.npy".utf8.count + 4 + 16
        for crafted: UInt64 in [0xffff_ffff_ffff_ff00, 0x7fff_ffff_ffff_fff0, 0x8000_0000_0000_0000, UInt64(base.count - 10)] {
            var bytes = base
            Self.put64(&bytes, at: offsetField, crafted)
            try expectStatisticsRefused(bytes, "local file header at offset")
        }
    }

    @Test func craftedZip64EndRecordAndSizes() throws {
        let base = Self.zip64Statistics()
        // The locator's pointer to the zip64 end record.
        let locator = Self.record(base, 0x0706_4b50)
        for crafted: UInt64 in [0xffff_ffff_ffff_ffc0, 0x7fff_ffff_ffff_fff0] {
            var bytes = base
            Self.put64(&bytes, at: locator + 8, crafted)
            try expectStatisticsRefused(bytes, "zip64 end-of-central-directory record")
        }
        // The central directory's offset and size in the zip64 end record.
        let end = Self.record(base, 0x0606_4b50)
        for (field, crafted) in [(48, UInt64.max), (40, UInt64(1) << 62), (32, UInt64(1) << 40)] {
            var bytes = base
            Self.put64(&bytes, at: end + field, crafted)
            try expectStatisticsRefused(bytes, "central directory")
        }
        // A member claiming a huge uncompressed size: nothing that large may be allocated.
        let entry = Self.record(base, 0x0201_4b50, occurrence: 1)
        for crafted: UInt64 in [UInt64(1) << 62, UInt64.max, 1 << 40] {
            var bytes = base
            Self.put64(&bytes, at: entry + 46 + "sigma.npy".utf8.count + 4, crafted)
            try expectStatisticsRefused(bytes, "sigma.npy")
        }
    }

    /// .npy headers whose shapes multiply past Int.max (or whose byte count does).
    @Test func npyShapeOverflow() throws {
        for shape in ["(4294967296, 4294967296, 4)", "(2305843009213693952, 4)", "(1152921504606846976, 2, 32, 32)",
                      "(9223372036854775807, 9223372036854775807)"] {
            var bytes = NPY.encode(NumpyArray(shape: [1, 32, 32], float32: [Float](repeating: 0, count: 1024)))
            let header = String(decoding: bytes[10..<(10 + Int(bytes[8]) + Int(bytes[9]) << 8)], as: UTF8.self)
            var text = header.replacingOccurrences(of: "(1, 32, 32)", with: shape)
            text = String(text.dropLast()).trimmingCharacters(in: .whitespaces)
            text += String(repeating: " ", count: (64 - (10 + text.count + 1) % 64) % 64) + "\n"
            bytes = Array(bytes[0..<8]) + [UInt8(text.utf8.count & 0xff), UInt8(text.utf8.count >> 8)] + Array(text.utf8)
                + Array(bytes[(10 + header.utf8.count)...])
            try withFile(bytes, name: "samples.npy") { path in
                // What `launcher fid` does with a samples file.
                let error = #expect(throws: FileError.self) { try SampleFiles.readImages(path, size: 32) }
                #expect(error?.description.contains(path) == true && error?.description.contains("more elements than fit") == true,
                        "\(shape): \(String(describing: error))")
            }
        }
    }

    // MARK: FID statistics that are not covariances

    func statistics(mu: NumpyArray, sigma: NumpyArray) throws -> [UInt8] {
        try NPZ.encode([("mu", mu), ("sigma", sigma)])
    }

    @Test func asymmetricSigmaIsRefused() throws {
        try expectStatisticsRefused(statistics(mu: Self.mu, sigma: NumpyArray(shape: [2, 2], float64: [2, 0.5, 0.4, 1])),
                                    "sigma is not symmetric")
    }

    @Test func indefiniteSigmaIsRefused() throws {
        // Eigenvalues 3 and -1: an FID from it came out negative.
        let indefinite = NumpyArray(shape: [2, 2], float64: [1, 2, 2, 1])
        try expectStatisticsRefused(statistics(mu: Self.mu, sigma: indefinite), "not positive semi-definite")
        #expect(throws: MetricsError.self) {
            _ = try FrechetDistance.compute(mean1: [0, 0], covariance1: [1, 2, 2, 1], mean2: [0, 0], covariance2: [1, 0, 0, 1])
        }
        #expect(throws: MetricsError.self) {
            _ = try FrechetDistance.compute(mean1: [0, 0], covariance1: [1, 0, 0, 1], mean2: [0, 0], covariance2: [1, 0.3, 0.2, 1])
        }
    }

    @Test func badShapesAndValuesAreRefused() throws {
        try expectStatisticsRefused(statistics(mu: Self.mu, sigma: NumpyArray(shape: [3, 3], float64: [Double](repeating: 0, count: 9))),
                                    "expected [d] and [d, d]")
        try expectStatisticsRefused(statistics(mu: NumpyArray(shape: [0], float64: []), sigma: NumpyArray(shape: [0, 0], float64: [])),
                                    "expected [d] and [d, d] with d >= 1")
        try expectStatisticsRefused(statistics(mu: NumpyArray(shape: [2], float64: [.nan, 0]), sigma: Self.sigma), "non-finite")
        try expectStatisticsRefused(statistics(mu: Self.mu, sigma: NumpyArray(shape: [2, 2], float64: [1, 0, 0, .infinity])), "non-finite")
        try expectStatisticsRefused(statistics(mu: Self.mu, sigma: NumpyArray(shape: [2, 2], float64: [-1, 0, 0, 1])), "diagonal entry 0")
    }

    /// Near-constant features (blank images): the covariance is ~0 and comes from E[xxᵀ] − μμᵀ,
    /// so rounding leaves negatives that are large next to tr S but tiny next to |μ|².
    @Test func nearConstantFeaturesAreAccepted() throws {
        let mean = [3.0, -2.0, 0.5]
        let covariance = [1e-12, 2e-15, 0, 2e-15, -3e-15, 0, 0, 0, 4e-13]
        let fid = try FrechetDistance.compute(mean1: mean, covariance1: covariance, mean2: mean, covariance2: covariance)
        #expect(abs(fid) < 1e-9)
        // The same matrix scaled up a millionfold is no longer rounding: refused.
        #expect(throws: MetricsError.self) {
            try FrechetDistance.compute(mean1: mean, covariance1: covariance.map { $0 * 1e10 }, mean2: mean, covariance2: covariance)
        }
    }

    /// Rank-deficient covariances (fewer samples than features) have eigenvalues that round
    /// to tiny negatives: accepted, and the FID of identical statistics is ~0.
    @Test func rankDeficientSigmaIsAccepted() throws {
        var random = RandomStream(seed: 5)
        let d = 16
        let rows = (0..<3).map { _ in (0..<d).map { _ in random.normal() } }
        var s = [Double](repeating: 0, count: d * d)
        for r in rows { for i in 0..<d { for j in 0..<d { s[i * d + j] += r[i] * r[j] / 3 } } }
        let mean = (0..<d).map { _ in random.normal() }
        let moments = try withFile(statistics(mu: NumpyArray(shape: [d], float64: mean), sigma: NumpyArray(shape: [d, d], float64: s)),
                                   name: "rank3.npz") { try FeatureMoments.read(npz: $0) }
        let fid = try moments.frechetDistance(to: moments)
        #expect(abs(fid) < 1e-6 * s.enumerated().filter { $0.offset % (d + 1) == 0 }.map(\.element).reduce(0, +), "FID \(fid)")
    }
}
