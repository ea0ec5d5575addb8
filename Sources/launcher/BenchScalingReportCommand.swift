import ArgumentParser
import Diffusion
import Foundation

struct BenchScalingReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling-report",
        abstract: "Summarize a scripts/bench-scaling folder: the scaling table, allreduce α and β, the cluster prediction.",
        discussion: """
        Reads train-np<P>-<transport>-r<K>.json, sample-np<P>-<transport>-r<K>.json, \
        allreduce-np<P>-<transport>-r<K>.json and meta.json from the folder (as \
        scripts/bench-scaling writes them), prints the table with medians over the repeats (for \
        the allreduce, each size's fastest median: interference only adds time), and writes \
        results.json there.
        """)

    @Argument(help: "Folder written by scripts/bench-scaling.") var directory: String
    @Option(help: "Preset to predict cluster efficiency for (seed or small).") var predictPreset: ModelPreset = .seed
    @Option(help: "Transport whose measured α the prediction uses (the name in allreduce-np<P>-<name>-r<K>.json).") var alphaFrom = "tcp"

    func run() throws {
        let folder = try ScalingFolder(directory: directory)
        let report = try folder.report(predictPreset: predictPreset, alphaFrom: alphaFrom)
        print(report.formatted())
        try writeJSON(report, to: directory + "/results.json")
        print("\nwritten: \(directory)/results.json")
    }
}

