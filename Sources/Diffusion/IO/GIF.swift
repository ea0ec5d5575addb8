/// An animated GIF89a writer (256-entry global palette), looping forever, with a delay per
/// frame. Used for sampling animations: gray frames index a gray ramp; RGB frames are
/// mapped to a 3-3-2 color cube (8 levels of red and green, 4 of blue), GIF's 256 colors.
///
/// Pixel data is LZW-compressed as GIF specifies: 8-bit roots, codes from 9 bits growing to
/// 12, a clear code first and whenever the 4096-entry table fills, an end code last.
public enum GIF {
    public enum Palette: Sendable {
        /// Index = gray value.
        case gray
        /// Index = r3 << 5 | g3 << 2 | b2.
        case rgb332

        /// 256 R, G, B triples.
        var colors: [UInt8] {
            switch self {
            case .gray: return (0...255).flatMap { [UInt8($0), UInt8($0), UInt8($0)] }
            case .rgb332:
                func level(_ v: Int, _ top: Int) -> UInt8 { UInt8((v * 255 + top / 2) / top) }
                return (0...255).flatMap { [level($0 >> 5, 7), level($0 >> 2 & 7, 7), level($0 & 3, 3)] }
            }
        }

        /// Palette indices of R, G, B bytes (3 per pixel), each channel rounded to its level.
        public static func rgb332Indices(_ rgb: [UInt8]) -> [UInt8] {
            func round(_ v: UInt8, _ top: Int) -> Int { (Int(v) * top + 127) / 255 }
            return (0..<(rgb.count / 3)).map { p in
                UInt8(round(rgb[3 * p], 7) << 5 | round(rgb[3 * p + 1], 7) << 2 | round(rgb[3 * p + 2], 3))
            }
        }
    }

    /// `frames` each `width * height` palette indices; `delays` in hundredths of a second,
    /// one per frame (or one for all).
    public static func write(frames: [[UInt8]], width: Int, height: Int, delays: [Int], palette: Palette = .gray,
                             to path: String) throws {
        if let problem = inputProblem(frames: frames, width: width, height: height, delays: delays) {
            throw FileError(path: path, "cannot write this GIF: \(problem)")
        }
        try FileBytes.writeAtomically(encode(frames: frames, width: width, height: height, delays: delays,
                                             palette: palette), to: path)
    }

    /// Why these frames cannot be encoded, or nil.
    static func inputProblem(frames: [[UInt8]], width: Int, height: Int, delays: [Int]) -> String? {
        guard width > 0 && height > 0 && width <= 0xffff && height <= 0xffff else {
            return "size \(width)x\(height), expected 1...65535 pixels each way"
        }
        guard delays.count == frames.count || delays.count == 1 else {
            return "\(delays.count) delays for \(frames.count) frames (give one per frame or one for all)"
        }
        if let i = frames.firstIndex(where: { $0.count != width * height }) {
            return "frame \(i) has \(frames[i].count) pixels, expected \(width * height)"
        }
        return nil
    }

    public static func encode(frames: [[UInt8]], width: Int, height: Int, delays: [Int],
                              palette: Palette = .gray) -> [UInt8] {
        let problem = inputProblem(frames: frames, width: width, height: height, delays: delays)
        precondition(problem == nil, problem ?? "")
        var out = Array("GIF89a".utf8)
        // Logical screen: global color table of 2^(7+1) entries, 8 bits per primary.
        out.appendLittleEndian(UInt16(width))
        out.appendLittleEndian(UInt16(height))
        out += [0xF7, 0, 0]
        out += palette.colors
        // Netscape application extension: loop count 0 = forever.
        out += [0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8) + [0x03, 0x01, 0x00, 0x00, 0x00]
        for (i, frame) in frames.enumerated() {
            let delay = delays.count == 1 ? delays[0] : delays[i]
            // Graphic control extension: disposal 1 (leave in place), no transparency.
            out += [0x21, 0xF9, 0x04, 0x04]
            out.appendLittleEndian(UInt16(clamping: max(delay, 0)))
            out += [0x00, 0x00]
            // Image descriptor: the whole screen, no local color table.
            out += [0x2C, 0, 0, 0, 0]
            out.appendLittleEndian(UInt16(width))
            out.appendLittleEndian(UInt16(height))
            out += [0x00]
            out += [8]  // LZW minimum code size
            let data = lzw(frame)
            var offset = 0
            while offset < data.count {
                let n = min(255, data.count - offset)
                out.append(UInt8(n))
                out += data[offset..<(offset + n)]
                offset += n
            }
            out.append(0)
        }
        out.append(0x3B)
        return out
    }

    /// GIF's LZW over 8-bit symbols, codes packed least significant bit first.
    static func lzw(_ pixels: [UInt8]) -> [UInt8] {
        let clearCode = 256, endCode = 257, maxCodes = 4096
        var writer = BitWriter()
        var table = CodeTable()
        var width = 9
        var next = endCode + 1
        writer.write(clearCode, width: width)
        guard var prefix = pixels.first.map(Int.init) else {
            writer.write(endCode, width: width)
            return writer.finish()
        }
        for k in pixels.dropFirst() {
            let symbol = Int(k)
            if let code = table.lookup(prefix: prefix, symbol: symbol) {
                prefix = code
                continue
            }
            writer.write(prefix, width: width)
            table.insert(prefix: prefix, symbol: symbol, code: next)
            next += 1
            // The decoder adds each entry one code later than we do, so it widens its
            // codes when its table reaches 2^width; we widen once ours is one past that.
            if next > 1 << width && width < 12 { width += 1 }
            if next == maxCodes {
                writer.write(clearCode, width: width)
                table.reset()
                width = 9
                next = endCode + 1
            }
            prefix = symbol
        }
        writer.write(prefix, width: width)
        // After reading that last code the decoder adds an entry (unless it was the first
        // after a clear) and may widen before reading the end code.
        if next == 1 << width && width < 12 && next > endCode + 1 { width += 1 }
        writer.write(endCode, width: width)
        return writer.finish()
    }

    /// Bits packed into bytes least significant bit first.
    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ code: Int, width: Int) {
            buffer |= UInt64(code) << UInt64(count)
            count += width
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xff))
                buffer >>= 8
                count -= 8
            }
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { bytes.append(UInt8(buffer & 0xff)) }
            buffer = 0; count = 0
            return bytes
        }
    }

    /// (prefix code, symbol) -> code, open addressing; a generation stamp makes reset O(1).
    struct CodeTable {
        static let size = 1 << 13  // at most 3840 entries live: load under one half
        var keys = [Int32](repeating: 0, count: size)
        var codes = [Int16](repeating: 0, count: size)
        var stamps = [UInt32](repeating: 0, count: size)
        var generation: UInt32 = 1

        @inline(__always)
        func slot(_ key: Int32) -> Int {
            Int((UInt32(bitPattern: key) &* 2_654_435_761) >> 19) & (Self.size - 1)
        }

        func lookup(prefix: Int, symbol: Int) -> Int? {
            let key = Int32(prefix << 8 | symbol)
            var i = slot(key)
            while stamps[i] == generation {
                if keys[i] == key { return Int(codes[i]) }
                i = (i + 1) & (Self.size - 1)
            }
            return nil
        }

        mutating func insert(prefix: Int, symbol: Int, code: Int) {
            let key = Int32(prefix << 8 | symbol)
            var i = slot(key)
            while stamps[i] == generation { i = (i + 1) & (Self.size - 1) }
            stamps[i] = generation
            keys[i] = key
            codes[i] = Int16(code)
        }

        mutating func reset() { generation &+= 1 }
    }
}
