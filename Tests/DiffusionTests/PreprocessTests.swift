import Diffusion
import Foundation
import Testing

@Suite struct PreprocessTests {
    let float = BilinearResize(inRows: 28, inColumns: 28, outRows: 32, outColumns: 32, arithmetic: .float)
    let pillow = BilinearResize(inRows: 28, inColumns: 28, outRows: 32, outColumns: 32, arithmetic: .pillow)

    /// Half-pixel centres, clamped: output x samples input src = (x + 0.5) * 28/32 - 0.5,
    /// clamped to [0, 27].
    func source(_ x: Int) -> Double { min(max((Double(x) + 0.5) * 0.875 - 0.5, 0), 27) }

    @Test func constantImageStaysConstant() {
        for value: UInt8 in [0, 1, 77, 128, 254, 255] {
            let image = [UInt8](repeating: value, count: 784)
            #expect(float.resize(image).allSatisfy { abs($0 - Float(value)) < 1e-4 })
            #expect(pillow.resize(image).allSatisfy { $0 == Float(value) })
        }
    }

    @Test func linearRampsStayLinear() {
        // Along columns: p[y][x] = 10 + 8x; along rows: p[y][x] = 3 + 9y.
        let horizontal = (0..<784).map { UInt8(10 + 8 * ($0 % 28)) }
        let vertical = (0..<784).map { UInt8(3 + 9 * ($0 / 28)) }
        let h = float.resize(horizontal), v = float.resize(vertical)
        for y in 0..<32 {
            for x in 0..<32 {
                #expect(abs(Double(h[y * 32 + x]) - (10 + 8 * source(x))) < 1e-3, "horizontal ramp at (\(y), \(x))")
                #expect(abs(Double(v[y * 32 + x]) - (3 + 9 * source(y))) < 1e-3, "vertical ramp at (\(y), \(x))")
            }
        }
        // The clamped ends: the first and last output columns repeat the edge pixels.
        #expect(h[0] == 10 && h[31] == 10 + 8 * 27)
    }

    @Test func handComputedValues() {
        var image = [UInt8](repeating: 0, count: 784)
        image[13 * 28 + 13] = 0; image[13 * 28 + 14] = 16
        image[14 * 28 + 13] = 64; image[14 * 28 + 14] = 255
        image[0] = 200; image[1] = 100; image[28] = 40; image[29] = 20
        image[27 * 28 + 27] = 99
        let out = float.resize(image)
        // Centre (16, 16): src = 16.5 * 0.875 - 0.5 = 13.9375 on both axes, so weights
        // 0.0625 (pixel 13) and 0.9375 (pixel 14):
        // 0.0625 * (0.0625*0 + 0.9375*16) + 0.9375 * (0.0625*64 + 0.9375*255) = 228.80859375.
        #expect(abs(out[16 * 32 + 16] - 228.80859375) < 1e-4)
        // Corner (0, 0): src = -0.0625, clamped to 0: exactly pixel (0, 0).
        #expect(out[0] == 200)
        // (1, 1): src = 0.8125: 0.1875 * (0.1875*200 + 0.8125*100) + 0.8125 * (0.1875*40 + 0.8125*20)
        //        = 0.1875 * 118.75 + 0.8125 * 23.75 = 41.5625.
        #expect(abs(out[33] - 41.5625) < 1e-4)
        // Far corner (31, 31): src = 27.0625, clamped to 27.
        #expect(out[31 * 32 + 31] == 99)
        // Pillow's rounding: the centre value rounds to 229.
        #expect(pillow.resize(image)[16 * 32 + 16] == 229)
    }

    @Test func pillowArithmeticIsWithinOneLevelOfFloat() throws {
        let train = try trainSet.get()
        for i in 0..<200 {
            let image = Array(train.image(i))
            let a = float.resize(image), b = pillow.resize(image)
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(worst <= 1.0, "image \(i): max difference \(worst) gray levels")
        }
    }

    @Test(.enabled(if: Python.hasPillow, "Pillow is not installed: skipping the exact comparison with PIL's resize"))
    func pillowArithmeticMatchesPIL() throws {
        let train = try trainSet.get()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = 500
        try FileBytes.writeAtomically(Array(train.images.prefix(n * 784)), to: dir + "/in.raw")
        let out = try Python.run("pillow_resize.py", [dir + "/in.raw", dir + "/out.raw"])
        try #require(out.status == 0, "pillow_resize.py failed: \(out.stderr)")
        let expected = try FileBytes.read(dir + "/out.raw")
        var mismatches = 0
        for i in 0..<n {
            let ours = pillow.resize(Array(train.image(i)))
            for k in 0..<1024 where ours[k] != Float(expected[i * 1024 + k]) { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(mismatches) pixels differ from PIL in \(n) images")
    }

    @Test func datasetTensorShapeRangeAndOrder() throws {
        let train = try trainSet.get()
        let indices = [0, 1, 59_999, 31_337]
        let tensor = Preprocess.images(train, indices: indices)
        #expect(tensor.shape == [4, 32, 32, 1])
        for (row, index) in indices.enumerated() {
            let expected = float.resize(Array(train.image(index))).map { $0 / 255 - 0.5 }
            let got = Array(tensor.buffer[(row * 1024)..<((row + 1) * 1024)])
            #expect(zip(got, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        }
    }

    @Test func wholeTrainingSet() throws {
        let train = try trainSet.get()
        let all = Preprocess.images(train)
        #expect(all.shape == [60_000, 32, 32, 1])
        let values = all.buffer
        var lowest = Float.infinity, highest = -Float.infinity
        let p = all.data
        for i in 0..<all.count where p[i] < lowest || p[i] > highest {
            lowest = min(lowest, p[i]); highest = max(highest, p[i])
        }
        #expect(lowest == -0.5 && highest == 0.5)
        // Spot checks against single-image resizes, across chunk boundaries.
        for index in [0, 937, 938, 29_999, 59_999] {
            let expected = float.resize(Array(train.image(index))).map { $0 / 255 - 0.5 }
            #expect(zip(values[(index * 1024)..<((index + 1) * 1024)], expected).allSatisfy { abs($0 - $1) < 1e-6 },
                    "image \(index)")
        }
    }
}
