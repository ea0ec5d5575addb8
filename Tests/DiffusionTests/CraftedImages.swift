import Foundation
@testable import Diffusion

/// PNG files of any colour type, bit depth and interlacing, built here sample by sample (our
/// writer makes only 8-bit gray and RGB), to test the decoder on what other tools write.
enum CraftedPNG {
    /// `samples`: row-major, `channels(colorType)` per pixel, each below 2^bitDepth.
    static func encode(width: Int, height: Int, bitDepth: Int, colorType: UInt8, samples: [Int],
                       palette: [UInt8]? = nil, transparency: [UInt8]? = nil, interlaced: Bool = false) -> [UInt8] {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colorType)]!
        precondition(samples.count == width * height * channels)
        func scanlines(xs: [Int], ys: [Int]) -> [UInt8] {
            var out: [UInt8] = []
            for y in ys {
                out.append(0)  // filter: none
                var bits: [Int] = []
                for x in xs { for c in 0..<channels { bits.append(samples[(y * width + x) * channels + c]) } }
                switch bitDepth {
                case 16: for v in bits { out += [UInt8(v >> 8), UInt8(v & 0xFF)] }
                case 8: out += bits.map { UInt8($0) }
                default:
                    let perByte = 8 / bitDepth
                    for start in stride(from: 0, to: bits.count, by: perByte) {
                        var byte = 0
                        for k in 0..<perByte {
                            let v = start + k < bits.count ? bits[start + k] : 0
                            byte |= v << (8 - bitDepth * (k + 1))
                        }
                        out.append(UInt8(byte))
                    }
                }
            }
            return out
        }
        var raw: [UInt8] = []
        if interlaced {
            let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            for (x0, y0, dx, dy) in passes {
                let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
                if !xs.isEmpty && !ys.isEmpty { raw += scanlines(xs: xs, ys: ys) }
            }
        } else {
            raw = scanlines(xs: Array(0..<width), ys: Array(0..<height))
        }
        var png = PNG.signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [UInt8(bitDepth), colorType, 0, 0, interlaced ? 1 : 0]
        PNG.appendChunk("IHDR", header, to: &png)
        if let palette { PNG.appendChunk("PLTE", palette, to: &png) }
        if let transparency { PNG.appendChunk("tRNS", transparency, to: &png) }
        PNG.appendChunk("IDAT", Zlib.compress(raw, container: .zlib, level: 6), to: &png)
        PNG.appendChunk("IEND", [], to: &png)
        return png
    }
}

/// Small image sets written as files, for the folder reader's tests.
enum ImageSets {
    static func write(_ bytes: [UInt8], _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileBytes.writeAtomically(bytes, to: path)
    }

    static func grayPNG(width: Int, height: Int, value: (Int, Int) -> UInt8) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height { for x in 0..<width { pixels.append(value(x, y)) } }
        return PNG.encode(pixels, width: width, height: height, colorType: .grayscale)
    }

    /// `count` coloured shapes on black, 16x16 RGB: a red square (class "square") or a blue
    /// disc ("disc"), at varying places and sizes.
    static func shapes(in folder: String, count: Int, size: Int = 16) throws {
        var random = RandomStream(seed: 11)
        for i in 0..<count {
            let disc = i % 2 == 1
            let cx = 4 + random.int(below: size - 8), cy = 4 + random.int(below: size - 8), r = 2 + random.int(below: 3)
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size {
                for x in 0..<size {
                    let inside = disc ? (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r : abs(x - cx) <= r && abs(y - cy) <= r
                    if inside { pixels[(y * size + x) * 3 + (disc ? 2 : 0)] = 230; pixels[(y * size + x) * 3 + 1] = 40 }
                }
            }
            try write(PNG.encode(pixels, width: size, height: size, colorType: .rgb),
                      folder + "/" + (disc ? "disc" : "square") + String(format: "/%04d.png", i))
        }
    }
}
