import Diffusion
import FuzzDriver

func fuzzNPY(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let array = try? NPY.decode(bytes, name: "fuzz") { _ = array.tensor() }
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzNPY($0, $1) } }
}
