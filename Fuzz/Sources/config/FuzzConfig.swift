import Diffusion
import FuzzDriver

/// config.json: the U-Net's (diffusers' UNet2DModel keys) and the classifier's, each parsed,
/// validated and sized as the loaders do before building a model.
func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let unet = try? UNetConfig(json: bytes, path: "fuzz"), (try? unet.validate(path: "fuzz")) != nil {
        _ = unet.parameterCount
        _ = unet.toJSON()
    }
    if let classifier = try? ClassifierConfig(json: bytes, path: "fuzz"), (try? classifier.validate(path: "fuzz")) != nil {
        _ = classifier.parameterCount
    }
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzConfig($0, $1) } }
}
