import Foundation
import Testing
import Diffusion

/// `bench scaling-report`'s reading of a bench-scaling folder, and the cluster prediction's
/// inputs, now importable from the library.
@Suite struct ScalingReportTests {
    func train(ranks: Int, imagesPerSecond: Double) -> TrainBenchResult {
        TrainBenchResult(preset: "small", ranks: ranks, threadsPerRank: 2 / ranks, globalBatch: 64, stepSeconds: 64 / imagesPerSecond,
                         imagesPerSecond: imagesPerSecond, allreduceSeconds: 0.01, allreduceShare: 0.01, imbalanceWaitSeconds: 0,
                         gradientMegabytes: 15.9, overlap: false, bucketFloats: 1 << 22)
    }

    @Test func folderGivesEfficiencyAndAPrediction() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scaling-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let encoder = JSONEncoder()
        try encoder.encode(train(ranks: 1, imagesPerSecond: 80)).write(to: URL(fileURLWithPath: dir + "/train-np1-self-r1.json"))
        try encoder.encode(train(ranks: 2, imagesPerSecond: 72)).write(to: URL(fileURLWithPath: dir + "/train-np2-shm-r1.json"))
        let report = try ScalingFolder(directory: dir).report(predictPreset: .seed, alphaFrom: "tcp")
        #expect(report.rows.map(\.ranks) == [1, 2])
        #expect(abs((report.rows[1].trainEfficiency ?? 0) - 0.9) < 1e-12)
        let prediction = try #require(report.prediction)
        #expect(prediction.inputs.preset == .seed && prediction.inputs.measuredPreset == .small)
        // Seconds per seed image: the small preset's, scaled by the FLOP ratio.
        let seed = try #require(ModelPreset.seed.referenceCost), small = try #require(ModelPreset.small.referenceCost)
        #expect(abs(prediction.secondsPerImage - seed.trainGFLOP / small.trainGFLOP / 80) < 1e-12)
    }

    @Test func emptyFolderAndUncountedPresetAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scaling-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: FileError.self) { _ = try ScalingFolder(directory: dir) }
        #expect(throws: OptionError.self) {
            _ = try ScalingForecastInputs(preset: .tiny, measuredPreset: .small, measuredImagesPerSecond: 1, alpha: 1e-5,
                                            alphaSource: "test", linkGbit: [10], ranks: [8], batches: [16], bucketBytes: 4e6)
        }
    }
}
