/// The TFRecord framing of TensorBoard event files (TensorFlow's
/// core/lib/io/record_writer.cc): each record is
///
///     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes
///     data (length bytes)           | uint32 masked CRC-32C of the data
///
/// with the records back to back and nothing before, between or after them.
public enum TFRecord {
    /// `data` framed as one record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        appendLittleEndian(UInt64(data.count), bytes: 8, to: &record)
        appendLittleEndian(UInt64(CRC32C.masked(record)), bytes: 4, to: &record)
        record += data
        appendLittleEndian(UInt64(CRC32C.masked(data)), bytes: 4, to: &record)
        return record
    }

    /// The data of every record in `bytes`, the contents of the file at `path` (named in the
    /// errors). Throws on a truncated record or a checksum that does not match.
    public static func records(in bytes: [UInt8], path: String) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else {
                throw FileError(path: path, "truncated TFRecord header at byte \(offset): \(bytes.count - offset) of 12 bytes")
            }
            let lengthBytes = bytes[offset..<(offset + 8)]
            guard UInt64(CRC32C.masked(lengthBytes)) == littleEndian(bytes, at: offset + 8, count: 4) else {
                throw FileError(path: path, "TFRecord length checksum mismatch at byte \(offset)")
            }
            let length = littleEndian(bytes, at: offset, count: 8)
            let start = offset + 12
            guard length <= UInt64(bytes.count - start), bytes.count - start - Int(length) >= 4 else {
                throw FileError(path: path, "truncated TFRecord at byte \(offset): \(length) data bytes and a checksum "
                                + "announced, \(bytes.count - start) bytes left")
            }
            let end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard UInt64(CRC32C.masked(data)) == littleEndian(bytes, at: end, count: 4) else {
                throw FileError(path: path, "TFRecord data checksum mismatch in the record at byte \(offset)")
            }
            records.append(data)
            offset = end + 4
        }
        return records
    }

    static func appendLittleEndian(_ value: UInt64, bytes count: Int, to out: inout [UInt8]) {
        for i in 0..<count { out.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    static func littleEndian(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }
}
