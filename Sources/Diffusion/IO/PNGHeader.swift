extension PNG {
    /// What a PNG file's IHDR chunk says: size and channels per pixel (color types 0 gray,
    /// 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA; from the PNG specification, 11.2.2).
    public struct Header: Equatable, Sendable {
        public let width: Int, height: Int, channels: Int
    }

    /// The header of the PNG in `bytes` (the file at `path`, named in the errors).
    public static func header(_ bytes: [UInt8], path: String) throws -> Header {
        // Signature, IHDR's length and type, then width, height, bit depth, color type.
        guard bytes.count >= 26, Array(bytes[0..<8]) == signature, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw FileError(path: path, "not a PNG file (no PNG signature followed by an IHDR chunk)")
        }
        func bigEndian(_ at: Int) -> Int { (at..<(at + 4)).reduce(0) { $0 << 8 | Int(bytes[$1]) } }
        let channels: [UInt8: Int] = [0: 1, 2: 3, 3: 3, 4: 2, 6: 4]
        guard let c = channels[bytes[25]] else { throw FileError(path: path, "PNG color type \(bytes[25]) is not one of 0, 2, 3, 4, 6") }
        return Header(width: bigEndian(16), height: bigEndian(20), channels: c)
    }
}
