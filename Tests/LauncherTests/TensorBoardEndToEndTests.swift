import Diffusion
import Foundation
import Testing

/// `launcher train` at two ranks leaves one TensorBoard event file (rank 0's) with metrics.csv's
/// rows as scalars and samples.png as an image; `--no-tensorboard` leaves none.
@Suite struct TensorBoardEndToEndTests {
    static let train = ["train", "--preset", "tiny", "--train-subset", "96", "--batch-size", "24", "--epochs", "1",
                        "--max-steps", "3", "--samples", "4", "--sampler", "ddim", "--threads", "1"]

    @Test func trainLogsMetricsAndTheSampleGrid() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try MPIRun.launcher(Self.train + ["--out", out], ranks: 2, timeout: 600)
        #expect(run.status == 0, "\(run.stderr)")

        let files = try EventFile.paths(in: out + "/tensorboard")
        #expect(files.count == 1)
        let events = try EventFile.read(try #require(files.first))
        let rows = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").map { Double($0)! } }
        let scalars = events.filter { $0.scalar("train/loss") != nil }
        #expect(scalars.map(\.step) == rows.map { Int($0[0]) })
        for (e, row) in zip(scalars, rows) {
            // metrics.csv holds the loss to 6 decimals, lr to 7 digits.
            #expect(abs(Double(try #require(e.scalar("train/loss"))) - row[2]) < 1e-6)
            #expect(abs(Double(try #require(e.scalar("train/lr"))) / row[3] - 1) < 1e-6)
        }
        let grid = try #require(events.last?.image("samples"))
        #expect(events.last?.step == 3)
        #expect(grid.encoded == (try FileBytes.read(out + "/samples.png")))

        let off = out + "/off"
        let quiet = try MPIRun.launcher(Self.train + ["--samples", "0", "--out", off, "--no-tensorboard"], ranks: 1, timeout: 600)
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(FileManager.default.fileExists(atPath: off + "/metrics.csv"))
        #expect(!FileManager.default.fileExists(atPath: off + "/tensorboard"))
    }
}
