import Foundation
import Testing
@testable import Diffusion
#if canImport(Glibc)
import Glibc
#endif

/// A small real filesystem to fill up: a tmpfs of a few hundred KiB, mounted for the test
/// (needs root or CAP_SYS_ADMIN; the tests that need it are skipped otherwise).
enum SmallFilesystem {
    /// Whether this process may mount a tmpfs (tried once).
    static let available: Bool = {
        guard let dir = try? temporaryDirectory() else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount2(dir, Int32(MNT_DETACH))
        return true
    }()

    /// Runs `body` with a fresh tmpfs of `kilobytes` KiB mounted at a temporary directory.
    static func with<T>(kilobytes: Int, _ body: (String) throws -> T) throws -> T {
        let dir = try temporaryDirectory()
        guard mount("tmpfs", dir, "tmpfs", 0, "size=\(kilobytes)k") == 0 else {
            throw FileError(path: dir, "cannot mount a tmpfs: \(String(cString: strerror(errno)))")
        }
        defer {
            umount2(dir, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: dir)
        }
        return try body(dir)
    }

    /// Writes a file into `dir` until the filesystem is full.
    static func fill(_ dir: String) {
        let fd = open(dir + "/filler", O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        let block = [UInt8](repeating: 0xAB, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress!, 4096) }) > 0 {}
        let byte: [UInt8] = [1]
        while byte.withUnsafeBytes({ write(fd, $0.baseAddress!, 1) }) > 0 {}
    }
}

/// A full disk while training: every write that fails ends the run with an error naming the
/// file (never a trap), and the last good checkpoint stays whole.
@Suite struct FullDiskTests {
    static func report(step: Int) -> Trainer.StepReport {
        Trainer.StepReport(step: step, epoch: 0, loss: 0.123456, lr: 1e-3, beta1: 0.9, images: 128, seconds: 0.5,
                           allreduceSeconds: 0, waitSeconds: 0)
    }

    /// /dev/full fails every write with ENOSPC: no mount needed.
    @Test func appendingToAFullDeviceThrows() throws {
        let file = try FileBytes.AppendingFile(path: "/dev/full")
        #expect { try file.append(Array("step,loss\n".utf8)) } throws: {
            "\($0)".contains("/dev/full") && "\($0)".contains("No space left")
        }
    }

    /// An atomic write renames a temporary file over its target: never over a device or a
    /// pipe (as root that would replace /dev/null with a plain file).
    @Test func atomicWritesDoNotReplaceSpecialFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/pipe"
        try #require(mkfifo(fifo, 0o644) == 0)
        #expect { try FileBytes.writeAtomically([1, 2, 3], to: fifo) } throws: {
            "\($0)".contains(fifo) && "\($0)".contains("not a regular file")
        }
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["pipe"])
    }

    @Test(.enabled(if: SmallFilesystem.available, "cannot mount a tmpfs here"))
    func metricsLogOnAFullDisk() throws {
        try SmallFilesystem.with(kilobytes: 64) { dir in
            let log = try MetricsLog(path: dir + "/metrics.csv", keepBefore: 0)
            SmallFilesystem.fill(dir)
            // The file's first page has room for some rows; the rest must fail cleanly.
            var failure: Error?
            for step in 0..<10_000 where failure == nil {
                do { try log.append(Self.report(step: step)) } catch { failure = error }
            }
            let message = failure.map { "\($0)" } ?? "no error"
            #expect(failure is FileError && message.contains(dir + "/metrics.csv") && message.contains("No space left"), "\(message)")
        }
    }

    /// The state of a run folder's checkpoint files, for comparing before and after.
    func checkpointFiles(_ run: TrainingRun) throws -> [[UInt8]] {
        try [run.statePath, run.modelPath + "/" + DiffusersFolder.weightsName, run.modelPath + "/" + DiffusersFolder.configName]
            .map(FileBytes.read)
    }

    @Test(.enabled(if: SmallFilesystem.available, "cannot mount a tmpfs here"))
    func checkpointOnAFullDisk() throws {
        try SmallFilesystem.with(kilobytes: 512) { dir in
            let trainer = try TinyTraining.trainer()
            let run = try TrainingRun(trainer: trainer, directory: dir + "/run", checkpointEvery: 1)
            _ = try trainer.trainStep()
            try run.writeCheckpoint()
            let good = try checkpointFiles(run)
            SmallFilesystem.fill(dir)
            #expect { _ = try run.run(shouldStop: { false }, onStep: { _ in }) } throws: {
                "\($0)".contains(dir + "/run/") && "\($0)".contains("No space left")
            }
            #expect(try checkpointFiles(run) == good)
            #expect(try TrainingCheckpoint.load(from: run.statePath).step == 1)
            // No temporary files left behind by the failed writes.
            let left = try FileManager.default.subpathsOfDirectory(atPath: dir + "/run").filter { $0.contains(".tmp-") }
            #expect(left.isEmpty, "\(left)")
        }
    }

    @Test(.enabled(if: SmallFilesystem.available, "cannot mount a tmpfs here"))
    func metricsOnAFullDiskDuringARun() throws {
        try SmallFilesystem.with(kilobytes: 512) { dir in
            let trainer = try TinyTraining.trainer(maxSteps: 10_000)
            let run = try TrainingRun(trainer: trainer, directory: dir + "/run", checkpointEvery: 100_000)
            try run.writeCheckpoint()
            let good = try checkpointFiles(run)
            SmallFilesystem.fill(dir)
            // Each step appends to metrics.csv and to the TensorBoard events file: whichever
            // meets the full disk first stops the run, and the error names it.
            #expect { _ = try run.run(shouldStop: { false }, onStep: { _ in }) } throws: {
                ("\($0)".contains(dir + "/run/metrics.csv") || "\($0)".contains(dir + "/run/tensorboard/events.out.tfevents."))
                    && "\($0)".contains("No space left")
            }
            #expect(trainer.step < 10_000, "the run went on after its logs could not be written")
            #expect(try checkpointFiles(run) == good)
        }
    }
}
