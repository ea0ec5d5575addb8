import Diffusion
import FuzzDriver

func fuzzPNG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    _ = try? PNG.header(bytes, path: "fuzz")
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzPNG($0, $1) } }
}
