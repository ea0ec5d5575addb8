import Diffusion
import FuzzDriver

/// The safetensors reader: header, content hashes, every conversion a caller may ask for;
/// then the training state on top of it (metadata JSON: step, options, config).
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let file = try? Safetensors(bytes: bytes, path: "fuzz") else { return 0 }
    for info in file.tensors {
        _ = try? file.tensor(named: info.name)
        _ = try? file.int64Values(named: info.name)
        _ = try? file.doubleValues(named: info.name)
    }
    _ = try? TrainingCheckpoint.load(bytes: bytes, path: "fuzz")
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzSafetensors($0, $1) } }
}
