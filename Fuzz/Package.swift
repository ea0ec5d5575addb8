// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets, one per reader, built only by scripts/fuzz (a package of its own, so the
// main package's build and tests never compile them):
//     swift build -c release -Xswiftc -sanitize=fuzzer,address   (see scripts/fuzz)
// Each target's @main hands its test function to libFuzzer (FuzzDriver).
let readers = ["safetensors", "config", "npy", "npz", "idx", "png", "image"]

let package = Package(
    name: "FashionDiffusionFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "FashionDiffusion", path: "..")],
    targets: [
        .target(name: "CFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CFuzzer", .product(name: "Diffusion", package: "FashionDiffusion")]),
    ] + readers.map { reader in
        .executableTarget(name: "fuzz-\(reader)",
                          dependencies: ["FuzzDriver", .product(name: "Diffusion", package: "FashionDiffusion")],
                          path: "Sources/\(reader)",
                          // gold fails on these links (an internal error in format_file_lineno); lld links them.
                          linkerSettings: [.unsafeFlags(["-use-ld=lld"])])
    }
)
