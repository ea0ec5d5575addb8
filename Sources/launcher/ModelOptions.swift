import ArgumentParser
import Diffusion
import Foundation

/// Picks the model configuration: a preset or a diffusers config.json. Both are Optional so
/// that `train --resume` can tell a given one (checked against the saved run) from none.
struct ModelChoice: ParsableArguments {
    static let defaultPreset = ModelPreset.seed

    @Option(help: "Model preset: seed (32,64,128,256; the recipe), small (16,32,64,128) or tiny (8,16,16; tests). Default: seed.")
    var preset: ModelPreset?

    @Option(help: "A diffusers UNet2DModel config.json to use instead of a preset.")
    var config: String?

    var given: Bool { preset != nil || config != nil }

    /// What the configuration comes from, for messages: the config.json path or the preset.
    var source: String { config ?? "preset \((preset ?? Self.defaultPreset).rawValue)" }

    func validate() throws {
        if preset != nil && config != nil { throw ValidationError("--preset and --config exclude each other") }
    }

    /// The configuration, checked against the data it will see: Fashion-MNIST is 32x32 after
    /// preprocessing; `anySampleSize` (--data) takes a config.json's sample_size as it is.
    func resolve(anySampleSize: Bool = false) throws -> UNetConfig {
        var c: UNetConfig
        let preset = self.preset ?? Self.defaultPreset
        if let config {
            c = try UNetConfig.load(contentsOf: config)
        } else {
            c = preset.config
            c.sampleSize = Preprocess.imageSize  // tiny's fixture size is 16; the data is 32x32
        }
        let source = config ?? "preset \(preset.rawValue)"
        guard anySampleSize || c.sampleSize == Preprocess.imageSize else {
            throw ValidationError("\(source): sample_size \(c.sampleSize); the data is \(Preprocess.imageSize)x\(Preprocess.imageSize)")
        }
        return c
    }
}

/// Default output folder: runs/<date-time>.
func defaultRunDirectory(_ kind: String = "") -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    return "runs/\(kind)\(f.string(from: Date()))"
}
