// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, one per reader, built only by scripts/fuzz (a package of its own, so the
// main package's build and tests never compile them):
//     swift build -c release -Xswiftc -sanitize=fuzzer,address   (see scripts/fuzz)
// Each target defines LLVMFuzzerTestOneInput and no main: libFuzzer's main runs it.
let readers = ["safetensors", "config", "npy", "npz", "idx", "png"]

let package = Package(
    name: "FashionDiffusionFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "FashionDiffusion", path: "..")],
    targets: readers.map { reader in
        .executableTarget(name: "fuzz-\(reader)",
                          dependencies: [.product(name: "Diffusion", package: "FashionDiffusion")],
                          path: "Sources/\(reader)")
    }
)
