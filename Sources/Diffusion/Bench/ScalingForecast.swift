import Foundation

/// What the cluster prediction is made from; shared by `bench model-scaling` and
/// `bench scaling-report` (which fills it from measurements).
public struct ScalingForecastInputs: Codable, Sendable {
    public let preset: ModelPreset, measuredPreset: ModelPreset
    public let measuredImagesPerSecond: Double
    public let alpha: Double
    /// Where α came from, for the printout ("--alpha-us", "measured over TCP, 2 ranks").
    public let alphaSource: String
    public let linkGbit: [Double], ranks: [Int], batches: [Int]
    public let bucketBytes: Double
    /// FLOPs of the two presets (both have a count: checked in init).
    let cost: ReferenceCost, measuredCost: ReferenceCost

    enum CodingKeys: String, CodingKey {
        case preset, measuredPreset, measuredImagesPerSecond, alpha, alphaSource, linkGbit, ranks, batches, bucketBytes
    }

    public init(preset: ModelPreset, measuredPreset: ModelPreset, measuredImagesPerSecond: Double, alpha: Double,
                alphaSource: String, linkGbit: [Double], ranks: [Int], batches: [Int], bucketBytes: Double) throws {
        func counted(_ p: ModelPreset, _ option: String) throws -> ReferenceCost {
            guard let cost = p.referenceCost else {
                throw OptionError(option, "'\(p.rawValue)' has no FLOP count: expected "
                                  + ModelPreset.measured.map(\.rawValue).joined(separator: " or "))
            }
            return cost
        }
        cost = try counted(preset, "--preset"); measuredCost = try counted(measuredPreset, "--measured-preset")
        self.preset = preset; self.measuredPreset = measuredPreset; self.measuredImagesPerSecond = measuredImagesPerSecond
        self.alpha = alpha; self.alphaSource = alphaSource
        self.linkGbit = linkGbit; self.ranks = ranks; self.batches = batches; self.bucketBytes = bucketBytes
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(preset: try c.decode(ModelPreset.self, forKey: .preset),
                      measuredPreset: try c.decode(ModelPreset.self, forKey: .measuredPreset),
                      measuredImagesPerSecond: try c.decode(Double.self, forKey: .measuredImagesPerSecond),
                      alpha: try c.decode(Double.self, forKey: .alpha), alphaSource: try c.decode(String.self, forKey: .alphaSource),
                      linkGbit: try c.decode([Double].self, forKey: .linkGbit), ranks: try c.decode([Int].self, forKey: .ranks),
                      batches: try c.decode([Int].self, forKey: .batches), bucketBytes: try c.decode(Double.self, forKey: .bucketBytes))
    }

    /// Seconds per training image of one rank on `preset`: measured, or scaled by FLOPs.
    public var secondsPerImage: Double {
        cost.trainGFLOP / measuredCost.trainGFLOP / measuredImagesPerSecond
    }

    public func predict() -> ScalingForecast {
        let parameters = preset.config.parameterCount
        var networks: [ScalingForecast.Network] = []
        for gbit in linkGbit {
            let step = DataParallelStepForecast(
                secondsPerImage: secondsPerImage, forwardFraction: cost.forwardGFLOP / cost.trainGFLOP,
                gradientBytes: Double(parameters * 4), bucketBytes: bucketBytes,
                allreduce: RingAllreduceCost(alpha: alpha, beta: gbit * 1e9 / 8))
            networks.append(.init(
                linkGbit: gbit, beta: step.allreduce.beta,
                predictions: batches.flatMap { b in ranks.map { step.predict(ranks: $0, batchPerRank: b) } },
                minimumBatchFor90Percent: ranks.map { p in
                    .init(ranks: p, serial: step.minimumBatchPerRank(ranks: p, target: 0.9, overlapped: false),
                          overlapped: step.minimumBatchPerRank(ranks: p, target: 0.9, overlapped: true))
                }))
        }
        return ScalingForecast(inputs: self, parameters: parameters, gradientBytes: Double(parameters * 4),
                                 secondsPerImage: secondsPerImage, forwardFraction: cost.forwardGFLOP / cost.trainGFLOP,
                                 networks: networks)
    }
}

public struct ScalingForecast: Codable, Sendable {
    public struct MinimumBatch: Codable, Sendable { public let ranks: Int; public let serial: Int?; public let overlapped: Int? }
    public struct Network: Codable, Sendable {
        public let linkGbit: Double, beta: Double
        public let predictions: [DataParallelStepForecast.Prediction]
        public let minimumBatchFor90Percent: [MinimumBatch]
    }
    public let inputs: ScalingForecastInputs
    public let parameters: Int
    public let gradientBytes: Double, secondsPerImage: Double, forwardFraction: Double
    public let networks: [Network]

    public func formatted() -> String {
        let i = inputs
        let source = i.measuredPreset == i.preset
            ? String(format: "measured: %.2f img/s at 1 rank", i.measuredImagesPerSecond)
            : String(format: "%@ preset measured at %.2f img/s at 1 rank, scaled by the FLOP ratio %.4f/%.4f",
                     i.measuredPreset.rawValue, i.measuredImagesPerSecond, i.cost.trainGFLOP, i.measuredCost.trainGFLOP)
        let buckets = Int((gradientBytes / i.bucketBytes).rounded(.up))
        var lines = [
            String(format: "Predicted data-parallel training efficiency, %@ preset: %d parameters, %.1f MB of gradients per step",
                   i.preset.rawValue, parameters, gradientBytes / 1e6),
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
