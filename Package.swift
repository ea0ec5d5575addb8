// swift-tools-version:6.0
import PackageDescription

// Swift otherwise compiles for baseline x86-64 (SSE2), which splits SIMD8<Float> into 128-bit
// ops and turns FMA into libm calls. haswell (AVX2 + FMA) runs on any x86 server of the last
// decade.
let machineFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
]
// Only the hot loops (Sources/Kernels) are built without bounds and overflow checks.
// Everything that reads files, flags or configs is built checked (plain -O), so a
// precondition or an out-of-bounds index stops the program instead of reading garbage.
// -Ounchecked also removes `precondition`: a guard in Kernels that must hold is an explicit
// `if !condition { fatalError(...) }`, which stays.
let uncheckedKernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(platforms: [.linux], configuration: .release)),
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
        // TensorBoard event files (Sources/Diffusion/Logging/TensorBoard): the runtime library
        // only; the generated event.pb.swift is committed, protoc does not run in the build.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Image decoding for `--data FOLDER` (Sources/Diffusion/Data): libpng and libjpeg-turbo,
        // called through CImageCodecs, which holds the setjmp their error handling needs.
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"],
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        // Debian's libdnnl-dev ships no pkg-config file: the module map names the library.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // glibc's mallopt, for the launcher's malloc settings (Sources/launcher/MallocTuning.swift).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // Register-only loops for `launcher bench peak` (C: Swift cannot emit VDPBF16PS).
        .target(name: "CPeak"),
        // AVX-512 versions of hot Swift kernels, chosen at run time (Swift builds for haswell).
        .target(name: "CAVX512", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Distributed", dependencies: ["CMPI"]),
        .target(name: "Kernels", dependencies: ["CBLAS", "CDNNL", "CPeak", "CAVX512"], swiftSettings: uncheckedKernelFlags),
        .target(name: "Diffusion", dependencies: ["Kernels", "CBLAS", "CZlib", "CImageCodecs",
                                                  .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Logging/TensorBoard/event.proto"],
                swiftSettings: machineFlags),
        .executableTarget(name: "launcher", dependencies: [
            "Diffusion", "Distributed", "Kernels", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test support, not a product: every Communicator operation across real ranks, started
        // under mpirun by Tests/LauncherTests/MultiRankTests.swift.
        .executableTarget(name: "communicator-checks", dependencies: ["Distributed"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "Kernels"]),
        .testTarget(name: "LauncherTests", dependencies: ["Diffusion"]),
    ]
)
