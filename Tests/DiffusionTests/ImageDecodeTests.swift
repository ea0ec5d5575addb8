import Foundation
import Testing
@testable import Diffusion

/// PNG and JPEG decoding: every PNG colour type and bit depth through libpng's conversions,
/// and the files that must be refused with the file's name and why.
@Suite struct ImageDecodeTests {
    static let width = 5, height = 3

    func decode(_ bytes: [UInt8]) throws -> DecodedImage { try ImageFormat.decode(bytes, path: "x.png") }

    @Test(arguments: [1, 2, 4, 8, 16])
    func grayOfEveryBitDepth(bitDepth: Int) throws {
        let top = (1 << bitDepth) - 1
        let samples = (0..<(Self.width * Self.height)).map { ($0 * 7919) % (top + 1) }
        let image = try decode(CraftedPNG.encode(width: Self.width, height: Self.height, bitDepth: bitDepth, colorType: 0, samples: samples))
        #expect(image.channels == 1 && image.width == Self.width && image.height == Self.height)
        // Below 8 bits libpng scales to the full range (1 bit: 0/255, 2: x85, 4: x17); 16 keeps the high byte.
        let expected = samples.map { bitDepth == 16 ? UInt8($0 >> 8) : UInt8($0 * 255 / top) }
        #expect(image.pixels == expected)
    }

    @Test(arguments: [false, true])
    func rgb16AndInterlaced(interlaced: Bool) throws {
        let w = 11, h = 9  // every Adam7 pass non-empty
        let samples = (0..<(w * h * 3)).map { ($0 * 40503) & 0xFFFF }
        let image = try decode(CraftedPNG.encode(width: w, height: h, bitDepth: 16, colorType: 2, samples: samples, interlaced: interlaced))
        #expect(image.channels == 3 && image.pixels == samples.map { UInt8($0 >> 8) })
    }

    @Test func interlacedGray8() throws {
        let w = 13, h = 10
        let samples = (0..<(w * h)).map { ($0 * 37) % 256 }
        let image = try decode(CraftedPNG.encode(width: w, height: h, bitDepth: 8, colorType: 0, samples: samples, interlaced: true))
        #expect(image.pixels == samples.map(UInt8.init))
    }

    @Test func paletteWithTransparencyBecomesRGBWithoutAlpha() throws {
        let palette: [UInt8] = [10, 20, 30, 200, 100, 0, 255, 255, 255]
        let samples = (0..<(Self.width * Self.height)).map { $0 % 3 }
        for transparency in [nil, [0, 128] as [UInt8]] {
            let image = try decode(CraftedPNG.encode(width: Self.width, height: Self.height, bitDepth: 8, colorType: 3, samples: samples,
                                                     palette: palette, transparency: transparency))
            #expect(image.channels == 3 && image.hadAlpha == (transparency != nil))
            #expect(image.pixels == samples.flatMap { Array(palette[($0 * 3)..<($0 * 3 + 3)]) })
        }
        // 4-bit palette indices.
        let four = try decode(CraftedPNG.encode(width: Self.width, height: Self.height, bitDepth: 4, colorType: 3, samples: samples, palette: palette))
        #expect(four.pixels == samples.flatMap { Array(palette[($0 * 3)..<($0 * 3 + 3)]) })
    }

    @Test func alphaIsDropped() throws {
        let ga = (0..<(Self.width * Self.height * 2)).map { $0 % 2 == 0 ? $0 : 7 }
        let gray = try decode(CraftedPNG.encode(width: Self.width, height: Self.height, bitDepth: 8, colorType: 4, samples: ga))
        #expect(gray.channels == 1 && gray.hadAlpha && gray.pixels == stride(from: 0, to: ga.count, by: 2).map { UInt8(ga[$0]) })
        let rgba = (0..<(Self.width * Self.height * 4)).map { ($0 * 3001) & 0xFFFF }
        let rgb = try decode(CraftedPNG.encode(width: Self.width, height: Self.height, bitDepth: 16, colorType: 6, samples: rgba))
        let expected = (0..<(Self.width * Self.height)).flatMap { p in (0..<3).map { UInt8(rgba[p * 4 + $0] >> 8) } }
        #expect(rgb.channels == 3 && rgb.hadAlpha && rgb.pixels == expected)
    }

    @Test func badFilesNameTheFileAndTheProblem() throws {
        let good = ImageSets.grayPNG(width: 20, height: 20) { x, y in UInt8((x * 13 + y * 7) % 256) }
        func refusal(_ bytes: [UInt8]) -> String {
            do { _ = try ImageFormat.decode(bytes, path: "dir/bad.png"); return "" } catch { return "\(error)" }
        }
        #expect(refusal([]).contains("dir/bad.png: empty file (0 bytes)"))
        #expect(refusal(Array("hello, not an image\n".utf8)).contains("not a PNG or JPEG"))
        #expect(refusal(Array(good.prefix(good.count * 2 / 3))).contains("dir/bad.png: corrupt"))
        var flipped = good
        flipped[good.count - 20] ^= 0xFF  // inside IDAT: a CRC mismatch
        #expect(refusal(flipped).contains("corrupt"))
        // A decompression bomb: the header claims 60000 x 60000 (3.6 gigapixels) over a few bytes of data.
        var bomb = PNG.signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(60_000)); header.appendBigEndian(UInt32(60_000))
        header += [8, 0, 0, 0, 0]
        PNG.appendChunk("IHDR", header, to: &bomb)
        PNG.appendChunk("IDAT", Zlib.compress([UInt8](repeating: 0, count: 1000), container: .zlib, level: 9), to: &bomb)
        PNG.appendChunk("IEND", [], to: &bomb)
        let message = refusal(bomb)
        #expect(message.contains("60000x60000") && message.contains("decompression bomb"), "\(message)")
    }

    @Test func jpegGrayAndColourAndTruncated() throws {
        let w = 24, h = 16
        var rgb: [UInt8] = []
        for y in 0..<h { for x in 0..<w { rgb += [UInt8(x * 10), UInt8(y * 15), 128] } }
        let colour = try JPEGDecoder.encode(DecodedImage(width: w, height: h, channels: 3, pixels: rgb), quality: 95)
        let decoded = try ImageFormat.decode(colour, path: "a.jpg")
        #expect(decoded.channels == 3 && decoded.width == w && decoded.height == h)
        #expect(zip(decoded.pixels, rgb).map { abs(Int($0) - Int($1)) }.max()! <= 12)
        let gray = (0..<(w * h)).map { UInt8($0 % w * 10) }
        let g = try ImageFormat.decode(try JPEGDecoder.encode(DecodedImage(width: w, height: h, channels: 1, pixels: gray), quality: 95), path: "g.jpg")
        #expect(g.channels == 1 && zip(g.pixels, gray).map { abs(Int($0) - Int($1)) }.max()! <= 12)
        do {
            _ = try ImageFormat.decode(Array(colour.prefix(colour.count - 40)), path: "cut.jpg")
            Issue.record("a truncated JPEG was decoded")
        } catch {
            #expect("\(error)".hasPrefix("cut.jpg: corrupt or truncated JPEG data: Premature end of JPEG file"), "\(error)")
        }
    }
}
