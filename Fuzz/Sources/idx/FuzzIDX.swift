import Diffusion
import FuzzDriver

/// IDX files as the dataset ships them (gzip). The first byte picks the mode: bit 0 set, the
/// rest is the gzip file itself (fuzzes the gzip framing and inflate limits); clear, the
/// rest is an uncompressed IDX file, gzipped here (reaches the IDX checks far more often).
/// Bit 1 picks the magic the caller expects: images or labels.
func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let mode = data[0]
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let magic = mode & 2 == 0 ? IDX.imagesMagic : IDX.labelsMagic
    let gzip = mode & 1 == 1 ? rest : Zlib.compress(rest, container: .gzip, level: 1)
    _ = try? IDX.decode(gzip: gzip, path: "fuzz", magic: magic)
    return 0
}

@main struct Main {
    static func main() { runFuzzer { fuzzIDX($0, $1) } }
}
