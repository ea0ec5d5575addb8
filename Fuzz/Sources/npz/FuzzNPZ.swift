import Diffusion

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPZ(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let arrays = try? NPZ.decode(bytes, name: "fuzz") {
        for (_, array) in arrays { _ = array.tensor() }
    }
    return 0
}
