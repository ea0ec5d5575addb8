import Diffusion
import Foundation
import Testing

/// Pixels with smooth areas, edges and noise, so every PNG filter type gets used.
func testPattern(width: Int, height: Int, channels: Int, seed: UInt64) -> [UInt8] {
    var random = RandomStream(seed: seed)
    var pixels: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                switch (y / 8) % 3 {
                case 0: pixels.append(UInt8((x * 7 + y * 3 + c * 50) & 0xff))
                case 1: pixels.append(x % 5 == 0 ? 255 : UInt8(c * 40))
                default: pixels.append(UInt8(random.int(below: 256)))
                }
            }
        }
    }
    return pixels
}

@Suite struct PNGTests {
    @Test(arguments: [(1, 1), (37, 23), (64, 40), (300, 7)])
    func grayscaleDecodesToTheSamePixels(width: Int, height: Int) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pixels = testPattern(width: width, height: height, channels: 1, seed: UInt64(width))
        let path = dir + "/gray.png"
        try PNG.write(grayscale: pixels, width: width, height: height, to: path)
        let decoded = try #require(try Python.json("check_formats.py", ["png", path]) as? [String: Any])
        #expect(ints(decoded["width"].map { [$0] }) == [width])
        #expect(ints(decoded["height"].map { [$0] }) == [height])
        #expect(ints(decoded["color_type"].map { [$0] }) == [0])
        #expect(ints(decoded["pixels"]) == pixels.map(Int.init))
        // Written atomically: nothing but the file is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["gray.png"])
    }

    @Test func rgbDecodesToTheSamePixels() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (width, height) = (45, 30)
        let pixels = testPattern(width: width, height: height, channels: 3, seed: 9)
        let path = dir + "/rgb.png"
        try PNG.write(rgb: pixels, width: width, height: height, to: path)
        let decoded = try #require(try Python.json("check_formats.py", ["png", path]) as? [String: Any])
        #expect(ints(decoded["color_type"].map { [$0] }) == [2])
        #expect(ints(decoded["pixels"]) == pixels.map(Int.init))
    }

    @Test func overwritesAnExistingFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.png"
        try PNG.write(grayscale: [1, 2, 3, 4], width: 2, height: 2, to: path)
        try PNG.write(grayscale: [9, 8, 7, 6], width: 2, height: 2, to: path)
        let decoded = try #require(try Python.json("check_formats.py", ["png", path]) as? [String: Any])
        #expect(ints(decoded["pixels"]) == [9, 8, 7, 6])
    }

    @Test func unwritableDestinationNamesThePath() {
        let e = #expect(throws: FileError.self) {
            try PNG.write(grayscale: [0], width: 1, height: 1, to: "/nonexistent-dir/x.png")
        }
        #expect(e?.description.contains("/nonexistent-dir/x.png") == true)
    }

    @Test func gridLayout() {
        // Three 2x3 images, two columns, gap 1: 2*3 + 3*1 = 9 wide, 2*2 + 3*1 = 7 high.
        let images = Tensor(shape: [3, 2, 3, 1], values: [
            -0.5, -0.5, -0.5, -0.5, -0.5, -0.5,   // black
            0.5, 0.5, 0.5, 0.5, 0.5, 0.5,         // white
            0, 0.25, -0.25, 1, -1, 0.001,         // mid grays, clamping
        ])
        let grid = ImageGrid.make(images: images, columns: 2, gap: 1, background: 7)
        #expect(grid.width == 9 && grid.height == 7)
        let g: UInt8 = 7
        let expected: [[UInt8]] = [
            [g, g, g, g, g, g, g, g, g],
            [g, 0, 0, 0, g, 255, 255, 255, g],
            [g, 0, 0, 0, g, 255, 255, 255, g],
            [g, g, g, g, g, g, g, g, g],
            [g, 128, 191, 64, g, g, g, g, g],
            [g, 255, 0, 128, g, g, g, g, g],
            [g, g, g, g, g, g, g, g, g],
        ]
        #expect(grid.pixels == expected.flatMap { $0 })
        // A value range other than [-0.5, 0.5].
        let unit = ImageGrid.make(images: Tensor(shape: [1, 1, 2, 1], values: [0, 1]), gap: 0, range: 0...1)
        #expect(unit.pixels == [0, 255] && unit.width == 2 && unit.height == 1)
        #expect(ImageGrid.defaultColumns(count: 64) == 8 && ImageGrid.defaultColumns(count: 10) == 4)
    }
}

@Suite struct GIFTests {
    /// A sequence whose consecutive pairs are all distinct, so the LZW encoder emits one
    /// code per pixel and the code count (hence the code-width changes at the end) is known.
    func distinctPairs(_ n: Int) -> [UInt8] {
        // A de Bruijn sequence of order 2 over 256 symbols (Lyndon words in order:
        // a, then a b for every b > a), so n <= 65,536.
        var out: [UInt8] = []
        for a in 0..<256 {
            out.append(UInt8(a))
            for b in (a + 1)..<256 { out += [UInt8(a), UInt8(b)] }
        }
        return Array(out.prefix(n))
    }

    func decode(_ paths: [String]) throws -> [[String: Any]] {
        try #require(try Python.json("check_formats.py", ["gif"] + paths) as? [[String: Any]])
    }

    @Test func animationDecodesToTheSameFrames() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (width, height) = (70, 45)
        var random = RandomStream(seed: 5)
        let frames: [[UInt8]] = [
            testPattern(width: width, height: height, channels: 1, seed: 1),
            (0..<(width * height)).map { _ in UInt8(random.int(below: 256)) },  // noise: fills the table, forces clears
            [UInt8](repeating: 200, count: width * height),                      // one long run
            (0..<(width * height)).map { UInt8(($0 % width) * 255 / (width - 1)) },
        ]
        let delays = [5, 10, 0, 300]
        let path = dir + "/anim.gif"
        try GIF.write(frames: frames, width: width, height: height, delays: delays, to: path)
        let gif = try #require(try decode([path]).first)
        #expect(ints(gif["width"].map { [$0] }) == [width] && ints(gif["height"].map { [$0] }) == [height])
        #expect(ints(gif["loop"].map { [$0] }) == [0], "loops forever")
        let decoded = try #require(gif["frames"] as? [[String: Any]])
        #expect(decoded.count == frames.count)
        for (i, frame) in decoded.enumerated() where i < frames.count {
            #expect(ints(frame["pixels"]) == frames[i].map(Int.init), "frame \(i)")
            #expect(ints(frame["delay"].map { [$0] }) == [delays[i]], "frame \(i) delay")
        }
    }

    @Test func codeWidthChangesAndTableResets() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // With one code per pixel, n pixels end with the table at 257 + n entries: the
        // lengths around 255, 767 and 1791 put the end code right at a width change, and
        // those around 3838 at the point where the full table is cleared.
        let lengths = [1, 2, 3, 254, 255, 256, 766, 767, 768, 1790, 1791, 1792, 3837, 3838, 3839, 3840, 5000, 9000]
        var paths: [String] = []
        var expected: [[UInt8]] = []
        for n in lengths {
            let pixels = distinctPairs(n)
            let path = dir + "/line\(n).gif"
            try GIF.write(frames: [pixels], width: n, height: 1, delays: [1], to: path)
            paths.append(path)
            expected.append(pixels)
        }
        let gifs = try decode(paths)
        #expect(gifs.count == lengths.count)
        for (i, gif) in gifs.enumerated() {
            let frames = try #require(gif["frames"] as? [[String: Any]])
            #expect(ints(frames.first?["pixels"]) == expected[i].map(Int.init), "length \(lengths[i])")
        }
    }
}
