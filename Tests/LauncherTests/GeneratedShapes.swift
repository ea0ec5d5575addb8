import Diffusion
import Foundation

/// Small generated data sets for the `--data` end-to-end tests: labelled RGB shapes written
/// as a class folder of PNGs, and an RGB model config of their size.
enum GeneratedShapes {
    static func temporaryDirectory(_ prefix: String = "data") -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileBytes.writeAtomically(bytes, to: path)
    }

    /// Red squares ("square") and blue discs ("disc") on black, `size` x `size` RGB PNGs.
    static func shapes(in folder: String, count: Int, size: Int = 16) throws {
        var random = RandomStream(seed: 5)
        for i in 0..<count {
            let disc = i % 2 == 1
            let cx = 4 + random.int(below: size - 8), cy = 4 + random.int(below: size - 8), r = 2 + random.int(below: 3)
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size {
                for x in 0..<size where disc ? (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r : abs(x - cx) <= r && abs(y - cy) <= r {
                    pixels[(y * size + x) * 3 + (disc ? 2 : 0)] = 230
                }
            }
            try write(PNG.encode(pixels, width: size, height: size, colorType: .rgb),
                      folder + "/" + (disc ? "disc" : "square") + String(format: "/%03d.png", i))
        }
    }

    /// The tiny preset at `size` x `size` with three channels, written to `dir`/config.json.
    static func rgbConfig(_ dir: String, size: Int) throws -> String {
        var c = UNetConfig.tiny
        c.sampleSize = size
        c.inChannels = 3
        c.outChannels = 3
        try c.write(to: dir + "/config.json")
        return dir + "/config.json"
    }

    /// A small classifier of `data`'s classes (16x16 inputs), trained in `out` over 2 ranks.
    static func trainClassifier(data: String, out: String) throws -> MPIRun {
        try MPIRun.launcher(["train-classifier", "--data", data, "--image-size", "16", "--channels", "8", "16",
                             "--blocks", "1", "1", "--groups", "4", "--epochs", "2", "--batch-size", "8",
                             "--threads", "1", "--out", out], ranks: 2, timeout: 600)
    }
}
