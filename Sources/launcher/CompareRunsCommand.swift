import ArgumentParser
import Diffusion
import Foundation

struct CompareRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-runs",
        abstract: "Training runs side by side by their evaluations: FID against training minutes, and a table.",
        discussion: """
        Reads evaluations.jsonl of each run folder (runs trained with --eval-every) and writes \
        fid-curves.png (FID against training minutes, one series per run), runs.md (a table of \
        each run's last and best FID, best first) and runs.json into --out, and prints the table. \
        Scores compare only at the same --eval-n and sampler, which the table shows.

        Example: launcher compare-runs runs/a runs/b --names one-cycle cosine --out runs/compare
        """)

    @Argument(help: "Run folders.") var runs: [String]
    @Option(parsing: .upToNextOption, help: "Names of the runs in the plot and table, one per folder (default: folder names).")
    var names: [String] = []
    @Option(help: "Output folder.") var out = "runs/compare"
    @Option(help: "Title of the plot.") var title = "FID against training time"

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run folder") }
        if !names.isEmpty && names.count != runs.count {
            throw ValidationError("--names has \(names.count) names for \(runs.count) run folders")
        }
    }

    func run() throws {
        let comparison = try RunComparison(folders: runs, names: names.isEmpty ? nil : names)
        try FileError.createFolder(out)
        let canvas = comparison.plot(title: title)
        try PNG.write(rgb: canvas.pixels, width: canvas.width, height: canvas.height, to: out + "/fid-curves.png")
        try FileBytes.writeAtomically(Array(comparison.markdown.utf8), to: out + "/runs.md")
        try writeJSON(comparison.rows, to: out + "/runs.json")
        print(comparison.markdown, terminator: "")
        print("wrote \(out)/fid-curves.png, runs.md, runs.json")
    }
}
