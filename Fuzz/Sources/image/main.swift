import Diffusion
import FuzzDriver

/// The image decoders' front end (`--data` folders): every input goes to both decoders, each
/// of which must refuse what is not its format or is damaged with an error, never a crash.
/// A small pixel limit keeps the decodes (and libFuzzer's memory) small.
func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    _ = try? PNGDecoder.decode(bytes, path: "fuzz.png", maxPixels: 1 << 16)
    _ = try? JPEGDecoder.decode(bytes, path: "fuzz.jpg", maxPixels: 1 << 16)
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzImage($0, $1) } }
}
