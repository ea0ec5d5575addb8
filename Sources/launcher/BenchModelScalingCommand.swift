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

    @Option(help: "Model to predict for: seed or small.") var preset = "seed"
    @Option(help: "Training images/s of one rank, measured with `bench train` at 1 rank.") var imagesPerSecond: Double
    @Option(help: "Preset that --images-per-second was measured on (default: --preset).") var measuredPreset: String?
    @Option(help: "Latency α in microseconds (typical: 20-50 for TCP over Ethernet, 2-5 for RDMA).") var alphaUs = 25.0
    @Option(help: "Link bandwidths in Gbit/s, comma-separated (β = link / 8 bytes per second).") var linkGbit = "10,100"
    @Option(help: "Rank counts, comma-separated.") var ranks = "8,16,32,64,128,256"
    @Option(help: "Images per rank per step, comma-separated.") var batches = "16,32,64,128"
    @Option(help: "Allreduce bucket in MB (16.78 MB = `train --bucket-mib 16`, for a cluster's larger latency; the trainer's default is 4 MiB).") var bucketMb = 16.777216
    @Option(help: "Also write the predictions as JSON to this file.") var json: String?

    func run() throws {
        let inputs = try ScalingPredictionInputs(
            preset: preset, measuredPreset: measuredPreset ?? preset, measuredImagesPerSecond: imagesPerSecond,
            alpha: alphaUs * 1e-6, alphaSource: "--alpha-us", linkGbit: try numbers(linkGbit, "--link-gbit"),
            ranks: try numbers(ranks, "--ranks").map { Int($0) }, batches: try numbers(batches, "--batches").map { Int($0) },
            bucketBytes: bucketMb * 1e6)
        let report = inputs.predict()
        print(report.formatted())
        if let json { try writeJSON(report, to: json) }
    }
}

func numbers(_ list: String, _ option: String) throws -> [Double] {
    let values = list.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("\(option): expected positive numbers separated by commas, got '\(list)'")
    }
    return values.map { $0! }
}

/// What the cluster prediction is made from; shared by `bench model-scaling` and
/// `bench scaling-report` (which fills it from measurements).
struct ScalingPredictionInputs: Codable {
    let preset: String, measuredPreset: String
    let measuredImagesPerSecond: Double
    let alpha: Double
    /// Where α came from, for the printout ("--alpha-us", "measured over TCP, 2 ranks").
    let alphaSource: String
    let linkGbit: [Double], ranks: [Int], batches: [Int]
    let bucketBytes: Double

    init(preset: String, measuredPreset: String, measuredImagesPerSecond: Double, alpha: Double, alphaSource: String,
         linkGbit: [Double], ranks: [Int], batches: [Int], bucketBytes: Double) throws {
        for name in [preset, measuredPreset] where ReferenceCost.byPreset[name] == nil || UNetConfig.preset(name) == nil {
            throw ValidationError("no FLOP count for preset '\(name)': expected seed or small")
        }
        self.preset = preset; self.measuredPreset = measuredPreset; self.measuredImagesPerSecond = measuredImagesPerSecond
        self.alpha = alpha; self.alphaSource = alphaSource
        self.linkGbit = linkGbit; self.ranks = ranks; self.batches = batches; self.bucketBytes = bucketBytes
    }

    /// Seconds per training image of one rank on `preset`: measured, or scaled by FLOPs.
    var secondsPerImage: Double {
        let flopRatio = ReferenceCost.byPreset[preset]!.trainGFLOP / ReferenceCost.byPreset[measuredPreset]!.trainGFLOP
        return flopRatio / measuredImagesPerSecond
    }

    func predict() -> ScalingPrediction {
        let cost = ReferenceCost.byPreset[preset]!
        let parameters = UNetConfig.preset(preset)!.parameterCount
        var networks: [ScalingPrediction.Network] = []
        for gbit in linkGbit {
            let model = DataParallelStepModel(
                secondsPerImage: secondsPerImage, forwardFraction: cost.forwardGFLOP / cost.trainGFLOP,
                gradientBytes: Double(parameters * 4), bucketBytes: bucketBytes,
                allreduce: RingAllreduceCost(alpha: alpha, beta: gbit * 1e9 / 8))
            networks.append(.init(
                linkGbit: gbit, beta: model.allreduce.beta,
                predictions: batches.flatMap { b in ranks.map { model.predict(ranks: $0, batchPerRank: b) } },
                minimumBatchFor90Percent: ranks.map { p in
                    .init(ranks: p, serial: model.minimumBatchPerRank(ranks: p, target: 0.9, overlapped: false),
                          overlapped: model.minimumBatchPerRank(ranks: p, target: 0.9, overlapped: true))
                }))
        }
        return ScalingPrediction(inputs: self, parameters: parameters, gradientBytes: Double(parameters * 4),
                                 secondsPerImage: secondsPerImage, forwardFraction: cost.forwardGFLOP / cost.trainGFLOP,
                                 networks: networks)
    }
}

struct ScalingPrediction: Codable {
    struct MinimumBatch: Codable { let ranks: Int; let serial: Int?; let overlapped: Int? }
    struct Network: Codable {
        let linkGbit: Double, beta: Double
        let predictions: [DataParallelStepModel.Prediction]
        let minimumBatchFor90Percent: [MinimumBatch]
    }
    let inputs: ScalingPredictionInputs
    let parameters: Int
    let gradientBytes: Double, secondsPerImage: Double, forwardFraction: Double
    let networks: [Network]

    func formatted() -> String {
        let i = inputs
        let source = i.measuredPreset == i.preset
            ? String(format: "measured: %.2f img/s at 1 rank", i.measuredImagesPerSecond)
            : String(format: "%@ preset measured at %.2f img/s at 1 rank, scaled by the FLOP ratio %.4f/%.4f",
                     i.measuredPreset, i.measuredImagesPerSecond,
                     ReferenceCost.byPreset[i.preset]!.trainGFLOP, ReferenceCost.byPreset[i.measuredPreset]!.trainGFLOP)
        let buckets = Int((gradientBytes / i.bucketBytes).rounded(.up))
        var lines = [
            String(format: "Predicted data-parallel training efficiency, %@ preset: %d parameters, %.1f MB of gradients per step",
                   i.preset, parameters, gradientBytes / 1e6),
            String(format: "compute: %.1f ms per image per rank (%@)", secondsPerImage * 1e3, source),
            String(format: "ring allreduce T(p,n) = 2(p-1)a + 2(p-1)/p n/b, a = %.1f us (%@), b = link bandwidth, %d bucket(s) of <= %.1f MB",
                   i.alpha * 1e6, i.alphaSource, buckets, i.bucketBytes / 1e6),
            "efficiency = compute / step; serial: allreduce after backward; overlapped: buckets sent during backward",
        ]
        for net in networks {
            lines.append("")
            let perRanks = i.ranks.map { p in
                String(format: "%.0f ms (%d)", (net.predictions.first { $0.ranks == p }?.allreduceSeconds ?? 0) * 1e3, p)
            }
            lines.append(String(format: "%.0f Gbit/s (b = %.2f GB/s); allreduce per step (ranks): ", net.linkGbit, net.beta / 1e9)
                         + perRanks.joined(separator: ", "))
            lines.append("  batch/rank  " + i.ranks.map { padLeft("\($0) ranks", 13) }.joined() + "   (serial / overlapped)")
            for b in i.batches {
                let cells = i.ranks.map { p -> String in
                    guard let r = net.predictions.first(where: { $0.ranks == p && $0.batchPerRank == b }) else { return "" }
                    return padLeft(String(format: "%3.0f%% / %3.0f%%", 100 * r.serialEfficiency, 100 * r.overlappedEfficiency), 13)
                }
                lines.append(padLeft("\(b)", 12) + "  " + cells.joined())
            }
            let minimum = net.minimumBatchFor90Percent.map { m in
                padLeft("\(m.serial.map(String.init) ?? ">4096") / \(m.overlapped.map(String.init) ?? ">4096")", 13)
            }
            lines.append("  90% needs   " + minimum.joined() + "   images per rank")
        }
        return lines.joined(separator: "\n")
    }
}
