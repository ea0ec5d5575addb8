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

    static var tinyModel: String { path("tiny/diffusion_pytorch_model.safetensors") }
    static var tinyIO: String { path("tiny/io.safetensors") }
    static var tinyGrads: String { path("tiny/grads.safetensors") }
    static var tinyConfig: String { path("tiny/config.json") }

    /// NCHW (PyTorch) values -> NHWC tensor.
    static func nhwc(_ t: Diffusion.Tensor) -> Diffusion.Tensor {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Diffusion.Tensor(shape: [n, h, w, c])
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out.data[((b * h + y) * w + x) * c + ch] = t.data[((b * c + ch) * h + y) * w + x]
        } } } }
        return out
    }
}

import Diffusion
