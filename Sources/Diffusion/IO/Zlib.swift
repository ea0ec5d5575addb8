import CZlib

/// In-memory zlib: deflate/inflate in the zlib, gzip and raw containers, and CRC-32.
public enum Zlib {
    public enum Container: Sendable {
        /// RFC 1950 (PNG's IDAT stream).
        case zlib
        /// RFC 1952 (.gz files); inflating also checks the CRC-32 and length trailer.
        case gzip
        /// Bare RFC 1951 deflate data (zip members).
        case raw

        var windowBits: Int32 {
            switch self {
            case .zlib: return 15
            case .gzip: return 15 + 16
            case .raw: return -15
            }
        }
    }

    /// The CRC-32 of PNG chunks, gzip and zip (zlib's implementation).
    public static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var crc = UInt(crc)
        var offset = 0
        // zlib takes a 32-bit length; feed huge buffers in pieces.
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), UInt32(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// A CRC-32 as 8 lowercase hex digits (Python: `format(zlib.crc32(data), "08x")`).
    public static func hex(_ crc: UInt32) -> String {
        let s = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    public static func crc32(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0, continuing: crc) }
    }

    /// Compresses `bytes` completely (level 0 stores, 9 is smallest).
    public static func compress(_ bytes: [UInt8], container: Container, level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let initialized = deflateInit2_(&stream, level, Z_DEFLATED, container.windowBits, 8, Z_DEFAULT_STRATEGY,
                                        zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initialized == Z_OK, "deflateInit2 failed (\(initialized))")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var produced = 0
        bytes.withUnsafeBytes { input in
            var consumed = 0
            while true {
                let inChunk = min(input.count - consumed, Int(UInt32.max >> 1))
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?
                    .advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = UInt32(inChunk)
                if output.count - produced < 1 << 16 { output += [UInt8](repeating: 0, count: output.count / 2 + (1 << 16)) }
                let outChunk = min(output.count - produced, Int(UInt32.max >> 1))
                let flush = consumed + inChunk == input.count ? Z_FINISH : Z_NO_FLUSH
                let ret = output.withUnsafeMutableBytes { out -> Int32 in
                    stream.next_out = out.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = UInt32(outChunk)
                    return deflate(&stream, flush)
                }
                consumed += inChunk - Int(stream.avail_in)
                produced += outChunk - Int(stream.avail_out)
                if ret == Z_STREAM_END { break }
                precondition(ret == Z_OK || ret == Z_BUF_ERROR, "deflate failed (\(ret))")
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// What inflating produced: the bytes so far, whether the stream ended properly, and
    /// zlib's complaint if it did not.
    struct Inflated {
        var bytes: [UInt8]
        /// The input ran out before the end of the compressed stream.
        var truncated: Bool
        /// zlib's message for damaged data (bad header, bad code, CRC mismatch, ...).
        var corruption: String?
        /// Inflating stopped at the caller's `limit` with more output to come.
        var exceededLimit = false

        /// The bytes of a complete, undamaged stream; otherwise an error naming `name`.
        func checked(name: String) throws -> [UInt8] {
            if let corruption {
                throw FileError(path: name, "corrupted compressed data after \(bytes.count) bytes (\(corruption)): expected a valid deflate stream")
            }
            if truncated {
                throw FileError(path: name, "compressed data ends after \(bytes.count) bytes: expected the rest of the stream (truncated?)")
            }
            return bytes
        }
    }

    /// Deflate expands at most about 1032:1, so no honest stream of n bytes inflates to more:
    /// a size hint read from a file is capped by this before anything is allocated for it.
    static func maxInflatedSize(compressedCount n: Int) -> Int {
        n.multipliedReportingOverflow(by: 1032).partialValue + (1 << 16)
    }

    /// Inflates all of `input` (for gzip, every member in turn), keeping what was produced
    /// even when the data is damaged or cut short, so callers can say how far it got.
    /// Output stops after `limit` bytes (`exceededLimit` then says more was coming).
    static func inflate(_ input: UnsafeRawBufferPointer, container: Container, sizeHint: Int = 0,
                        limit: Int = Int.max) -> Inflated {
        var result = Inflated(bytes: [], truncated: false, corruption: nil)
        let limit = max(limit, 0)
        let hint = min(max(sizeHint, 0), maxInflatedSize(compressedCount: input.count), limit)
        var output = [UInt8](repeating: 0, count: max(hint, 1 << 16))
        var produced = 0
        var consumed = 0
        var scratch: UInt8 = 0
        var stream = z_stream()
        let initialized = inflateInit2_(&stream, container.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initialized == Z_OK, "inflateInit2 failed (\(initialized))")
        defer { inflateEnd(&stream) }
        members: while true {
            while true {
                let inChunk = min(input.count - consumed, Int(UInt32.max >> 1))
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?
                    .advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = UInt32(inChunk)
                let outChunk: Int
                let ret: Int32
                if produced < limit {
                    if produced == output.count { output += [UInt8](repeating: 0, count: min(output.count, limit - produced)) }
                    outChunk = min(output.count - produced, limit - produced, Int(UInt32.max >> 1))
                    ret = output.withUnsafeMutableBytes { out -> Int32 in
                        stream.next_out = out.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                        stream.avail_out = UInt32(outChunk)
                        return CZlib.inflate(&stream, Z_NO_FLUSH)
                    }
                } else {
                    // At the limit: one byte of scratch tells a stream that ends here from one that goes on.
                    outChunk = 1
                    ret = withUnsafeMutablePointer(to: &scratch) { out -> Int32 in
                        stream.next_out = out
                        stream.avail_out = 1
                        return CZlib.inflate(&stream, Z_NO_FLUSH)
                    }
                    if stream.avail_out == 0 { result.exceededLimit = true; break members }
                }
                consumed += inChunk - Int(stream.avail_in)
                produced += outChunk - Int(stream.avail_out)
                if ret == Z_STREAM_END { break }
                if ret == Z_OK { continue }
                if ret == Z_BUF_ERROR && stream.avail_out > 0 {
                    // No progress possible with output space left: the input is exhausted.
                    result.truncated = true
                    break members
                }
                if ret == Z_BUF_ERROR { continue }
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(ret)"
                result.corruption = ret == Z_NEED_DICT ? "needs a preset dictionary" : message
                break members
            }
            // Concatenated gzip members form one file (as gunzip reads them).
            guard container == .gzip, input.count - consumed >= 2,
                  input[consumed] == 0x1f, input[consumed + 1] == 0x8b else {
                if consumed < input.count && container == .gzip && input[consumed...].contains(where: { $0 != 0 }) {
                    result.corruption = "\(input.count - consumed) bytes of garbage after the gzip stream"
                }
                break
            }
            inflateReset(&stream)
        }
        output.removeSubrange(produced...)
        result.bytes = output
        return result
    }

    /// Inflates a complete stream; `name` (a file, or a member of one) goes into errors.
    public static func decompress(_ bytes: [UInt8], container: Container, name: String, sizeHint: Int = 0) throws -> [UInt8] {
        try bytes.withUnsafeBytes { inflate($0, container: container, sizeHint: sizeHint) }.checked(name: name)
    }

    /// The uncompressed length a gzip file records in its trailer (modulo 2^32), as a
    /// buffer-size hint.
    static func gzipSizeHint(_ bytes: [UInt8]) -> Int {
        guard bytes.count >= 18 else { return 0 }
        let n = bytes.count
        let size = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
        return min(size, 1 << 31)
    }
}
