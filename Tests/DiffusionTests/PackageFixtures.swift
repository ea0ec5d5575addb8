import Foundation

/// Files under Tests/Fixtures (outside the test targets, so SwiftPM does not treat them as
/// resources), found from this source file's path so the tests run from any checkout.
enum PackageFixtures {
    static let directory: String = {
        let file = "\(#filePath)"
        let testsDir = file[..<file.lastIndex(of: "/")!]
        return String(testsDir[..<testsDir.lastIndex(of: "/")!]) + "/Fixtures"
    }()

    static func path(_ relative: String) -> String { directory + "/" + relative }

    /// The package's root folder (docs/, README.md).
    static var packageRoot: String { String(directory.dropLast("/Tests/Fixtures".count)) }

    static var tinyModel: String { path("tiny/diffusion_pytorch_model.safetensors") }
    static var tinyIO: String { path("tiny/io.safetensors") }
    static var tinyGrads: String { path("tiny/grads.safetensors") }
    static var tinyConfig: String { path("tiny/config.json") }
}

import Diffusion
