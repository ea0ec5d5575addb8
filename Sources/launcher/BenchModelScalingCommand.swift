import ArgumentParser
import Diffusion
import Foundation

struct BenchModelScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model-scaling",
        abstract: "Predict data-parallel training efficiency at 8-256 ranks from the ring allreduce model.",
        discussion: """
        T(p, n) = 2(p-1)α + 2(p-1)/p · n/β for n bytes of gradients over p ranks, β the link \
        bandwidth. A rank computes batch-per-rank images at the measured speed of one rank \
        (`launcher bench train` at 1 rank); a speed measured on another preset is scaled by the \
        FLOP ratio of the two. Efficiency = compute / step, for the allreduce after backward \
        (serial, what the trainer does) and overlapped with backward (bucket by bucket).

        Example: launcher bench model-scaling --preset seed --measured-preset small --images-per-second 40 --alpha-us 30
        """)

    @Option(help: "Model to predict for (seed or small: the presets with a FLOP count).") var preset: ModelPreset = .seed
    @Option(help: "Training images/s of one rank, measured with `bench train` at 1 rank.") var imagesPerSecond: Double
    @Option(help: "Preset that --images-per-second was measured on (default: --preset).") var measuredPreset: ModelPreset?
    @Option(help: "Latency α in microseconds (typical: 20-50 for TCP over Ethernet, 2-5 for RDMA).") var alphaUs = 25.0
    @Option(parsing: .upToNextOption, help: "Link bandwidths in Gbit/s (β = link / 8 bytes per second).") var linkGbit: [Double] = [10, 100]
    @Option(parsing: .upToNextOption, help: "Rank counts.") var ranks = [8, 16, 32, 64, 128, 256]
    @Option(parsing: .upToNextOption, help: "Images per rank per step.") var batches = [16, 32, 64, 128]
    @Option(help: ArgumentHelp("Allreduce bucket in MiB, in (0, 1024]: 16 = `train --bucket-mib 16`, for a cluster's larger "
                               + "latency (the trainer's default is \(BucketOption.defaultMiB)).", valueName: "MiB"))
    var bucketMib = 16.0
    @Option(help: "Also write the predictions as JSON to this file.") var json: String?

    func validate() throws {
        try OptionCheck.number(imagesPerSecond, "--images-per-second", 0, 1e9, lowerOpen: true)
        try OptionCheck.number(alphaUs, "--alpha-us", 0, 1e6)
        for g in linkGbit { try OptionCheck.number(g, "--link-gbit", 0, 1e6, lowerOpen: true) }
        for p in ranks { try OptionCheck.integer(p, "--ranks", 1...1_000_000) }
        for b in batches { try OptionCheck.integer(b, "--batches", 1...1_000_000) }
        guard !linkGbit.isEmpty, !ranks.isEmpty, !batches.isEmpty else {
            throw ValidationError("--link-gbit, --ranks and --batches need at least one value each")
        }
        try OptionCheck.number(bucketMib, "--bucket-mib", 0, 1024, lowerOpen: true)
        _ = try inputs()
    }

    func inputs() throws -> ScalingForecastInputs {
        try ScalingForecastInputs(
            preset: preset, measuredPreset: measuredPreset ?? preset, measuredImagesPerSecond: imagesPerSecond,
            alpha: alphaUs * 1e-6, alphaSource: "--alpha-us", linkGbit: linkGbit, ranks: ranks, batches: batches,
            bucketBytes: bucketMib * 4 * BucketOption.floatsPerMiB)
    }

    func run() throws {
        let report = try inputs().predict()
        print(report.formatted())
        if let json { try writeJSON(report, to: json) }
    }
}

