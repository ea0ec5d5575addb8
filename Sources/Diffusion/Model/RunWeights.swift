import Foundation

/// Which weights of a training run to sample from: its EMA (`model-ema/`, written when the
/// run kept one) or the raw weights (`model/`).
public enum WeightsChoice: String, CaseIterable, Sendable {
    case ema, raw

    /// How printouts name them: "EMA" or "raw" (weights).
    public var label: String {
        switch self {
        case .ema: return "EMA"
        case .raw: return "raw"
        }
    }
}

/// Finds the diffusers folder to load for `--model PATH` and a `WeightsChoice`.
///
/// PATH may be a run folder (holding `model/` and maybe `model-ema/`), or one of those two
/// folders, or any other diffusers folder. With `.ema`, a run's `model-ema/` is used when it
/// exists, else its `model/` (a run trained without EMA); with `.raw`, its `model/`. A folder
/// outside a run is used as it is.
public enum RunWeights {
    public static let rawFolder = "model"
    public static let emaFolder = "model-ema"

    public struct Resolved: Equatable, Sendable {
        /// The diffusers folder to load.
        public let path: String
        /// Which weights it holds: .ema only for a run's model-ema/.
        public let weights: WeightsChoice
        /// Whether the run beside it also has the other kind (EMA and raw both present).
        public let hasBoth: Bool
    }

    public static func resolve(_ path: String, weights: WeightsChoice) throws -> Resolved {
        let fm = FileManager.default
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        let url = URL(fileURLWithPath: trimmed)
        func isModel(_ p: String) -> Bool { fm.fileExists(atPath: p + "/" + DiffusersFolder.configName) }
        let run: String
        if !isModel(trimmed) && isModel(trimmed + "/" + rawFolder) {
            run = trimmed
        } else if [rawFolder, emaFolder].contains(url.lastPathComponent) {
            run = url.deletingLastPathComponent().path
        } else {
            return Resolved(path: trimmed, weights: .raw, hasBoth: false)
        }
        let raw = run + "/" + rawFolder, ema = run + "/" + emaFolder
        let hasRaw = isModel(raw), hasEMA = isModel(ema)
        switch weights {
        case .ema where hasEMA:
            return Resolved(path: ema, weights: .ema, hasBoth: hasRaw)
        case .ema:
            return Resolved(path: hasRaw ? raw : trimmed, weights: .raw, hasBoth: false)
        case .raw:
            guard hasRaw else {
                throw FileError(path: raw, "no raw weights (config.json) beside \(trimmed): expected the run's \(rawFolder)/ folder for --weights raw")
            }
            return Resolved(path: raw, weights: .raw, hasBoth: hasEMA)
        }
    }
}
