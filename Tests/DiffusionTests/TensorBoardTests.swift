import Foundation
import Testing
@testable import Diffusion

/// CRC-32C and the TFRecord framing of event files.
@Suite struct TFRecordTests {
    /// Check values from the CRC catalogue (CRC-32/ISCSI) and RFC 3720, B.4.
    @Test func crc32cCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
    }

    /// The mask is a 15-bit right rotation plus 0xa282ead8.
    @Test func maskedChecksum() {
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((0xE306_9283 >> 15) | (0xE306_9283 << 17 & 0xFFFF_FFFF)) &+ 0xA282_EAD8)
        // An empty record's length field, eight zero bytes: values from tensorboard's
        // compat/tensorflow_stub/pywrap_tensorflow.py (crc32c, masked_crc32c).
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 8)) == 0x8C28_B28A)
        #expect(CRC32C.masked([UInt8](repeating: 0, count: 8)) == 0x0798_0329)
    }

    @Test func framesReadBack() throws {
        let datas: [[UInt8]] = [[], [1, 2, 3], Array("brain.Event:2".utf8), [UInt8](repeating: 7, count: 300)]
        let bytes = datas.flatMap(TFRecord.frame)
        #expect(bytes.count == datas.map { $0.count + 16 }.reduce(0, +))
        // Length, little-endian, first.
        #expect(Array(TFRecord.frame([9, 9, 9]).prefix(8)) == [3, 0, 0, 0, 0, 0, 0, 0])
        #expect(try TFRecord.records(in: bytes, path: "x") == datas)
    }

    @Test func damagedRecordsThrowNamingTheFile() throws {
        let good = TFRecord.frame([1, 2, 3, 4])
        for (i, expected) in [(0, "length checksum"), (9, "length checksum"), (13, "data checksum"), (17, "data checksum")] {
            var bad = good
            bad[i] ^= 0x10
            #expect { try TFRecord.records(in: bad, path: "/run/events") } throws: {
                "\($0)".hasPrefix("/run/events: ") && "\($0)".contains(expected)
            }
        }
        #expect { try TFRecord.records(in: Array(good.dropLast()), path: "/run/events") } throws: { "\($0)".contains("truncated") }
        #expect { try TFRecord.records(in: good + good.prefix(5), path: "/run/events") } throws: { "\($0)".contains("truncated") }
    }
}

/// TensorBoardWriter's files read back with EventFile.read.
@Suite struct TensorBoardWriterTests {
    @Test func scalarsAndAnImageReadBack() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try TensorBoardWriter(directory: dir + "/logs", clock: { 1_700_000_123.5 })
        try writer.scalar("train/loss", 0.25, step: 7)
        try writer.scalars([("eval/fid", 12.5), ("eval/kid", -0.001)], step: 9, wallTime: 1_700_000_200)
        let pixels = testPattern(width: 5, height: 4, channels: 3, seed: 1)
        let picture = ImageGrid.Picture(pixels: pixels, width: 5, height: 4, colorType: .rgb)
        try writer.image("eval/grid", picture: picture, step: 9)

        #expect(try EventFile.paths(in: dir + "/logs") == [writer.path])
        let name = URL(fileURLWithPath: writer.path).lastPathComponent
        #expect(name.hasPrefix("events.out.tfevents.1700000123.") && name.hasSuffix(".\(getpid()).0"), "\(name)")

        let events = try EventFile.read(writer.path)
        #expect(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].values.isEmpty && events[0].wallTime == 1_700_000_123.5)
        #expect(events[1].step == 7 && events[1].wallTime == 1_700_000_123.5 && events[1].fileVersion == nil)
        #expect(events[1].values == [.init(tag: "train/loss", pluginName: nil, content: .scalar(0.25))])
        #expect(events[2].step == 9 && events[2].wallTime == 1_700_000_200)
        #expect(events[2].scalar("eval/fid") == 12.5 && events[2].scalar("eval/kid") == Float(-0.001))
        let image = try #require(events[3].image("eval/grid"))
        #expect(events[3].step == 9)
        #expect(image.width == 5 && image.height == 4 && image.channels == 3)
        #expect(image.encoded == PNG.encode(pixels, width: 5, height: 4, colorType: .rgb))
    }

    @Test func pngFileImageTakesItsSizeFromTheHeader() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try PNG.write(grayscale: testPattern(width: 6, height: 3, channels: 1, seed: 2), width: 6, height: 3, to: dir + "/g.png")
        let writer = try TensorBoardWriter(directory: dir)
        try writer.image("samples", pngFile: dir + "/g.png", step: 4)
        let image = try #require(try EventFile.read(writer.path).last?.image("samples"))
        #expect(image.width == 6 && image.height == 3 && image.channels == 1)
        #expect(image.encoded == (try FileBytes.read(dir + "/g.png")))
        #expect { try writer.image("samples", pngFile: dir + "/missing.png", step: 4) } throws: { "\($0)".contains(dir + "/missing.png") }
        try FileBytes.writeAtomically(Array("not a png at all, just some text".utf8), to: dir + "/t.png")
        #expect { try writer.image("samples", pngFile: dir + "/t.png", step: 4) } throws: { "\($0)".contains("not a PNG") }
    }

    /// A second writer on the folder (a resumed run) starts a file of its own, read after the first.
    @Test func secondWriterAddsAFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try TensorBoardWriter(directory: dir, clock: { 1_700_000_000 })
        try first.scalar("a", 1, step: 1)
        let second = try TensorBoardWriter(directory: dir, clock: { 1_700_000_000 })
        try second.scalar("a", 2, step: 2)
        #expect(first.path != second.path)
        #expect(try EventFile.paths(in: dir) == [first.path, second.path])
        #expect(try EventFile.paths(in: dir).flatMap(EventFile.read).compactMap { $0.scalar("a") } == [1, 2])
    }

    @Test(.enabled(if: SmallFilesystem.available, "cannot mount a tmpfs here"))
    func fullDiskThrowsNamingTheEventFile() throws {
        try SmallFilesystem.with(kilobytes: 64) { dir in
            let writer = try TensorBoardWriter(directory: dir + "/tb")
            SmallFilesystem.fill(dir)
            // The file's last page may still take a few records: write until it is full.
            #expect { for step in 0..<10_000 { try writer.scalar("train/loss", 1, step: step) } } throws: {
                "\($0)".contains(writer.path) && "\($0)".contains("No space left")
            }
        }
    }

    /// A training run logs every step's metrics.csv values; a second run on the folder (as after
    /// --resume) goes on in a new file.
    @Test func trainingRunLogsEachStep() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = try TinyTraining.trainer(maxSteps: 5)
        var reports: [Trainer.StepReport] = []
        let run = try TrainingRun(trainer: trainer, directory: dir, checkpointEvery: 100)
        #expect(try run.run(shouldStop: { reports.count == 3 }, onStep: { reports.append($0) }) == .stopped)
        let resumed = try TrainingRun(trainer: trainer, directory: dir, checkpointEvery: 100)
        #expect(try resumed.run(shouldStop: { false }, onStep: { reports.append($0) }) == .finished)

        let files = try EventFile.paths(in: run.tensorBoardPath)
        #expect(files == [try #require(run.tensorBoard?.path), try #require(resumed.tensorBoard?.path)])
        // Each file starts a session at its first step.
        #expect(try files.map { try EventFile.read($0).filter(\.startsSession).map(\.step) } == [[0], [3]])
        let events = try files.flatMap(EventFile.read).filter { !$0.values.isEmpty }
        #expect(events.map(\.step) == reports.map(\.step))
        #expect(events.map(\.step) == [0, 1, 2, 3, 4])
        for (e, r) in zip(events, reports) {
            #expect(e.scalar("train/loss") == Float(r.loss))
            #expect(e.scalar("train/lr") == Float(r.lr))
            #expect(e.scalar("train/images_per_second") == Float(Double(r.images) / r.seconds))
        }
        let off = try TrainingRun(trainer: try TinyTraining.trainer(maxSteps: 1), directory: dir + "/off", checkpointEvery: 1,
                                  tensorBoard: false)
        _ = try off.run(shouldStop: { false }, onStep: { _ in })
        #expect(off.tensorBoard == nil && !FileManager.default.fileExists(atPath: off.tensorBoardPath))
    }
}

/// An event file written by TensorBoard's own writer (Tests/Fixtures/make_tensorboard_fixture.py)
/// decodes to what the script put in it.
@Suite struct TensorBoardFixtureTests {
    @Test func readsTensorBoardsOwnFile() throws {
        let folder = PackageFixtures.path("tensorboard")
        let paths = try EventFile.paths(in: folder)
        #expect(paths == [folder + "/events.out.tfevents.1700000000.fixture"])
        let events = try EventFile.read(try #require(paths.first))
        #expect(events.count == 6)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].values.isEmpty)

        let scalars = events[1...3]
        #expect(scalars.map(\.step) == [0, 1, 2])
        #expect(scalars.map(\.wallTime) == [1_700_000_000, 1_700_000_001, 1_700_000_002])
        #expect(scalars.map { $0.scalar("train/loss") } == [0.5, 0.25, 0.125])
        #expect(scalars.map { $0.scalar("train/lr") } == [0.0009765625, 0.0009765625, 0.0009765625])
        #expect(scalars.allSatisfy { $0.values.map(\.pluginName) == ["scalars", "scalars"] })

        // The histogram is skipped, its tag kept.
        #expect(events[4].step == 2 && events[4].values == [.init(tag: "weights", pluginName: nil, content: .other)])

        #expect(events[5].step == 3)
        let image = try #require(events[5].image("samples"))
        #expect(image.width == 3 && image.height == 2 && image.channels == 3)
        #expect(image.encoded == (try FileBytes.read(folder + "/samples.png")))
        #expect(try PNG.header(image.encoded, path: "samples") == PNG.Header(width: 3, height: 2, channels: 3))
    }
}
