import Diffusion
import Foundation
import Testing

/// What a run prints into a log file, and commands started from another folder.
@Suite(.serialized) struct ProgressAndLocationTests {
    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// stderr is a file here: each bar prints at most a line per 5 s and its 100% line once
    /// (the final sampler grid used to print ~630 lines of "100%").
    @Test func progressInALogIsFewLinesAndEndsOnce() throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let start = Date()
        let run = try MPIRun.launcher(TrainEndToEndTests.base + ["--epochs", "1", "--max-steps", "2", "--samples", "2",
                                                                 "--out", out], ranks: 2, timeout: 600)
        let seconds = Date().timeIntervalSince(start)
        #expect(run.status == 0, "\(run.stderr)")
        for label in ["train", "sample"] {
            let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix(label + " [") }
            // The first line, one per 5 s of the whole run at most, and the finished line.
            #expect(lines.count >= 2 && Double(lines.count) <= 2 + seconds / 5, "\(label): \(lines.count) lines in \(seconds) s")
            #expect(lines.filter { $0.contains("100.0%") }.count == 1, "\(lines)")
            #expect(lines.last?.contains("100.0%") == true, "\(lines)")
            #expect(!lines.contains { $0.contains("\r") })
        }
        // The sampler's bar counts its steps: 999 for the recipe's DDPM.
        #expect(run.stderr.contains("999/999"), "\(run.stderr)")
    }

    /// `fid` finds the committed classifier from the launcher's location, started in a
    /// folder that has no models/ in it; the environment variable points elsewhere.
    @Test(.enabled(if: CommittedClassifier.exists, "models/fashion-classifier is not there"))
    func classifierIsFoundFromAnotherFolder() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fid = ["fid", "--samples", "real:test", "--samples-limit", "64", "--reference-limit", "256",
                   "--kid-subsets", "5", "--threads", "1", "--cache-dir", folder + "/cache"]
        let run = try MPIRun.run(["mpirun", "-np", "1", "--bind-to", "none", try MPIRun.launcherURL().path] + fid,
                                 timeout: 300, directory: folder, environment: ["FASHION_DIFFUSION_CLASSIFIER": ""])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("FID: "), "\(run.stdout)")
        // The environment variable names another folder: that one is used (and reported missing).
        let env = try MPIRun.run(["mpirun", "-np", "1", "--bind-to", "none", try MPIRun.launcherURL().path] + fid,
                                 timeout: 120, directory: folder,
                                 environment: [ClassifierFolder.environmentVariable: folder + "/no-classifier"])
        #expect(env.status != 0)
        #expect(env.stderr.contains(folder + "/no-classifier"), "\(env.stderr)")
    }

    /// The classifier sees 32x32 images: `sample --fid` on the 16x16 fixture is refused before
    /// sampling, as `fid` refuses 16x16 files.
    @Test func sampleFIDRefuses16x16Models() throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try MPIRun.launcher(["sample", "--model", SampleEndToEndTests.fixtureModel, "--n", "4", "--fid",
                                       "--threads", "1", "--out", out + "/s"], ranks: 2, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains("images of 16x16; FID and KID need 32x32"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/s/samples.npy"))
    }
}
