import Diffusion

/// The safetensors reader: header, content hashes, every conversion a caller may ask for;
/// then the training state on top of it (metadata JSON: step, options, config).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    SafetensorsHashes.notesEnabled = false
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? Safetensors(bytes: bytes, path: "fuzz") else { return 0 }
    for info in file.tensors {
        _ = try? file.tensor(named: info.name)
        _ = try? file.int64Values(named: info.name)
        _ = try? file.doubleValues(named: info.name)
    }
    _ = try? TrainingCheckpoint.load(bytes: bytes, path: "fuzz")
    return 0
}
