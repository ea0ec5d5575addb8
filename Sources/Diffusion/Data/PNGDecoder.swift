import CImageCodecs

/// PNG through libpng (Sources/CImageCodecs): every colour type and bit depth (palette,
/// gray below 8 bits, 16-bit, with transparency, interlaced) converted by the library to 8-bit
/// gray, gray+alpha, RGB or RGBA, then the alpha dropped. 16-bit samples keep their high byte
/// (as PIL reads 16-bit RGB); no gamma or ICC correction is applied (neither does PIL).
public enum PNGDecoder {
    public static func decode(_ bytes: [UInt8], path: String, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> DecodedImage {
        try CodecCall.decode(bytes, path: path, maxPixels: maxPixels, format: "PNG",
                             header: ic_png_header, body: ic_png_decode)
    }
}

/// JPEG through libjpeg-turbo: gray stays gray, YCbCr becomes RGB. CMYK is refused by the
/// library ("Unsupported color conversion request"). A corrupt-data warning, such as a file
/// cut short, fails the decode instead of being padded with gray.
public enum JPEGDecoder {
    public static func decode(_ bytes: [UInt8], path: String, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> DecodedImage {
        try CodecCall.decode(bytes, path: path, maxPixels: maxPixels, format: "JPEG",
                             header: ic_jpeg_header, body: ic_jpeg_decode)
    }
}

/// The header-check-allocate-decode sequence both C wrappers share.
enum CodecCall {
    typealias Header = (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<ic_info>?) -> Int32
    typealias Body = (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<ic_info>?, UnsafeMutablePointer<UInt8>?, Int) -> Int32

    static func message(_ info: ic_info) -> String {
        withUnsafeBytes(of: info.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    static func decode(_ bytes: [UInt8], path: String, maxPixels: Int, format: String,
                       header: Header, body: Body) throws -> DecodedImage {
        if bytes.isEmpty { throw ImageFileError(path: path, "empty file (0 bytes): expected a \(format) image") }
        var info = ic_info()
        let headerStatus = bytes.withUnsafeBufferPointer { header($0.baseAddress, $0.count, &info) }
        guard headerStatus == 0 else {
            throw ImageFileError(path: path, "corrupt \(format) header: \(message(info))")
        }
        let width = Int(info.width), height = Int(info.height), channels = Int(info.channels)
        guard width > 0, height > 0, (1...4).contains(channels) else {
            throw ImageFileError(path: path, "\(format) header gives \(width)x\(height) with \(channels) channels: expected a non-empty image")
        }
        // Checked before anything is allocated: the header alone can claim gigapixels.
        guard width.multipliedReportingOverflow(by: height).partialValue <= maxPixels, width <= maxPixels, height <= maxPixels else {
            throw ImageFileError(path: path, "\(format) header gives \(width)x\(height) pixels, more than the limit of \(maxPixels) "
                                 + "(a decompression bomb?): expected at most \(maxPixels) pixels")
        }
        var out = [UInt8](repeating: 0, count: width * height * channels)
        let status = bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in body(src.baseAddress, src.count, &info, dst.baseAddress, dst.count) }
        }
        guard status == 0 else {
            throw ImageFileError(path: path, "corrupt or truncated \(format) data: \(message(info))")
        }
        return DecodedImage(width: width, height: height, decoded: out, channels: channels)
    }
}

extension JPEGDecoder {
    /// A baseline JPEG of `image` at `quality` (1...100): for tests and sample data sets.
    public static func encode(_ image: DecodedImage, quality: Int = 90) throws -> [UInt8] {
        var info = ic_info()
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            ic_jpeg_encode($0.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels), Int32(quality), &out, &size, &info)
        }
        defer { ic_free(out) }
        guard status == 0, let out else { throw FileError(path: "(JPEG encoder)", CodecCall.message(info)) }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}
