import Diffusion
import FuzzDriver

func fuzzNPZ(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let arrays = try? NPZ.decode(bytes, name: "fuzz") {
        for (_, array) in arrays { _ = array.tensor() }
    }
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzNPZ($0, $1) } }
}
