/// A PNG writer for 8-bit grayscale (color type 0) and RGB (color type 2) images:
/// one IDAT of zlib-compressed scanlines, each with the filter that minimizes the sum of
/// absolute filtered values (the PNG spec's suggested heuristic), CRC-32 from zlib.
public enum PNG {
    public enum ColorType: UInt8, Sendable {
        case grayscale = 0
        case rgb = 2

        var channels: Int { self == .grayscale ? 1 : 3 }
    }

    /// A grayscale image, `width * height` bytes, row-major, 0 black.
    public static func write(grayscale pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        try write(pixels, width: width, height: height, colorType: .grayscale, to: path)
    }

    /// An RGB image, `width * height * 3` bytes, row-major, R G B per pixel.
    public static func write(rgb pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        try write(pixels, width: width, height: height, colorType: .rgb, to: path)
    }

    static func write(_ pixels: [UInt8], width: Int, height: Int, colorType: ColorType, to path: String) throws {
        if let problem = inputProblem(pixels.count, width: width, height: height, colorType: colorType) {
            throw FileError(path: path, "cannot write this PNG: \(problem)")
        }
        try FileBytes.writeAtomically(encode(pixels, width: width, height: height, colorType: colorType), to: path)
    }

    /// Why `count` bytes cannot be a width x height image of `colorType`, or nil.
    static func inputProblem(_ count: Int, width: Int, height: Int, colorType: ColorType) -> String? {
        guard width > 0 && height > 0 && width < 1 << 31 && height < 1 << 31 else {
            return "size \(width)x\(height), expected 1...\((1 << 31) - 1) pixels each way"
        }
        guard CheckedSize.elementCount([width, height, colorType.channels]) == count else {
            return "\(count) bytes for a \(width)x\(height) image of color type \(colorType)"
        }
        return nil
    }

    /// A grid as ImageGrid lays it out, gray or RGB.
    public static func write(_ picture: ImageGrid.Picture, to path: String) throws {
        try FileBytes.writeAtomically(encode(picture.pixels, width: picture.width, height: picture.height,
                                             colorType: picture.colorType), to: path)
    }

    /// The eight bytes every PNG file starts with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func encode(_ pixels: [UInt8], width: Int, height: Int, colorType: ColorType) -> [UInt8] {
        let bpp = colorType.channels
        let problem = inputProblem(pixels.count, width: width, height: height, colorType: colorType)
        precondition(problem == nil, problem ?? "")
        var png = signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [8, colorType.rawValue, 0, 0, 0]  // bit depth, color type, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", Zlib.compress(filtered(pixels, width: width, height: height, bpp: bpp),
                                          container: .zlib, level: 9), to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Scanlines, each prefixed by its filter type (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    static func filtered(_ pixels: [UInt8], width: Int, height: Int, bpp: Int) -> [UInt8] {
        let stride = width * bpp
        var out = [UInt8](repeating: 0, count: height * (stride + 1))
        var candidate = [UInt8](repeating: 0, count: stride)
        let zeros = [UInt8](repeating: 0, count: stride)
        pixels.withUnsafeBufferPointer { px in
            for y in 0..<height {
                let row = px.baseAddress! + y * stride
                let above = y > 0 ? px.baseAddress! + (y - 1) * stride : zeros.withUnsafeBufferPointer { $0.baseAddress! }
                var bestCost = Int.max
                for type: UInt8 in 0...4 {
                    var cost = 0
                    for i in 0..<stride {
                        let a = i >= bpp ? Int(row[i - bpp]) : 0
                        let b = Int(above[i])
                        let c = i >= bpp ? Int(above[i - bpp]) : 0
                        let predictor: Int
                        switch type {
                        case 0: predictor = 0
                        case 1: predictor = a
                        case 2: predictor = b
                        case 3: predictor = (a + b) / 2
                        default: predictor = paeth(a, b, c)
                        }
                        let v = UInt8(truncatingIfNeeded: Int(row[i]) - predictor)
                        candidate[i] = v
                        cost += v < 128 ? Int(v) : 256 - Int(v)
                    }
                    if cost < bestCost {
                        bestCost = cost
                        let base = y * (stride + 1)
                        out[base] = type
                        for i in 0..<stride { out[base + 1 + i] = candidate[i] }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        png.appendBigEndian(UInt32(data.count))
        png += typeBytes
        png += data
        png.appendBigEndian(Zlib.crc32(data, continuing: Zlib.crc32(typeBytes)))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8(v >> 16 & 0xff)); append(UInt8(v >> 8 & 0xff)); append(UInt8(v & 0xff))
    }

    mutating func appendLittleEndian(_ v: UInt16) {
        append(UInt8(v & 0xff)); append(UInt8(v >> 8))
    }

    mutating func appendLittleEndian(_ v: UInt32) {
        append(UInt8(v & 0xff)); append(UInt8(v >> 8 & 0xff)); append(UInt8(v >> 16 & 0xff)); append(UInt8(v >> 24))
    }
}
