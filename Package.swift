// swift-tools-version:6.0
import PackageDescription

// Hot kernels need the machine's vector units: Swift otherwise compiles for baseline
// x86-64 (SSE2), which splits SIMD16<Float> into 128-bit ops and turns FMA into libm calls.
// haswell (AVX2 + FMA) runs on any x86 server of the last decade.
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "FashionDiffusion",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "launcher", targets: ["launcher"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Debian's libdnnl-dev ships no pkg-config file: the module map names the library.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "Distributed", dependencies: ["CMPI"]),
        .target(name: "Diffusion", dependencies: ["CBLAS", "CZlib", "CDNNL"], swiftSettings: kernelFlags),
        .executableTarget(name: "launcher", dependencies: [
            "Diffusion", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion"], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "LauncherTests", dependencies: ["Diffusion"], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
