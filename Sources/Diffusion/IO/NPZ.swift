/// NumPy's .npz: a zip archive with one .npy member per array ("mu" is stored as
/// "mu.npy"). Written without compression, as `numpy.savez` does; read with stored or
/// deflated members (`numpy.savez_compressed`), zip64 size fields included.
public enum NPZ {
    /// Writes `arrays` in the given order (names without the ".npy").
    public static func write(_ arrays: [(name: String, array: NumpyArray)], to path: String) throws {
        try FileBytes.writeAtomically(encode(arrays, name: path), to: path)
    }

    /// The archive's bytes; `name` goes into errors (members of 4 GiB or more need zip64,
    /// which this writer does not do).
    public static func encode(_ arrays: [(name: String, array: NumpyArray)], name path: String = "<memory>") throws -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        // 1980-01-01 00:00, the earliest DOS date: the archive does not depend on the clock.
        let dosTime: UInt16 = 0, dosDate: UInt16 = (0 << 9) | (1 << 5) | 1
        for (name, array) in arrays {
            let member = NPY.encode(array)
            let fileName = Array((name + ".npy").utf8)
            let crc = Zlib.crc32(member)
            let offset = out.count
            guard member.count < 0xffff_ffff && offset < 0xffff_ffff else {
                throw FileError(path: path, "cannot write member \(name).npy: the archive would pass 4 GiB, which needs zip64 (not supported)")
            }
            out.appendLittleEndian(UInt32(0x0403_4b50))
            out.appendLittleEndian(UInt16(20))  // version needed
            out.appendLittleEndian(UInt16(0))   // flags
            out.appendLittleEndian(UInt16(0))   // stored
            out.appendLittleEndian(dosTime)
            out.appendLittleEndian(dosDate)
            out.appendLittleEndian(crc)
            out.appendLittleEndian(UInt32(member.count))
            out.appendLittleEndian(UInt32(member.count))
            out.appendLittleEndian(UInt16(fileName.count))
            out.appendLittleEndian(UInt16(0))   // extra length
            out += fileName
            out += member

            central.appendLittleEndian(UInt32(0x0201_4b50))
            central.appendLittleEndian(UInt16(0x0314))  // made by: Unix, spec 2.0
            central.appendLittleEndian(UInt16(20))
            central.appendLittleEndian(UInt16(0))
            central.appendLittleEndian(UInt16(0))
            central.appendLittleEndian(dosTime)
            central.appendLittleEndian(dosDate)
            central.appendLittleEndian(crc)
            central.appendLittleEndian(UInt32(member.count))
            central.appendLittleEndian(UInt32(member.count))
            central.appendLittleEndian(UInt16(fileName.count))
            central.appendLittleEndian(UInt16(0))  // extra
            central.appendLittleEndian(UInt16(0))  // comment
            central.appendLittleEndian(UInt16(0))  // disk
            central.appendLittleEndian(UInt16(0))  // internal attributes
            central.appendLittleEndian(UInt32(0o100644) << 16)  // external: regular file, rw-r--r--
            central.appendLittleEndian(UInt32(offset))
            central += fileName
        }
        let centralOffset = out.count
        guard arrays.count < 0xffff, centralOffset < 0xffff_ffff, central.count < 0xffff_ffff else {
            throw FileError(path: path, "cannot write \(arrays.count) arrays in \(centralOffset) bytes: "
                            + "more than 65534 members or 4 GiB need zip64 (not supported)")
        }
        out += central
        out.appendLittleEndian(UInt32(0x0605_4b50))
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(UInt16(arrays.count))
        out.appendLittleEndian(UInt16(arrays.count))
        out.appendLittleEndian(UInt32(central.count))
        out.appendLittleEndian(UInt32(centralOffset))
        out.appendLittleEndian(UInt16(0))
        return out
    }

    /// The arrays of an .npz, in archive order (names without ".npy").
    public static func read(_ path: String) throws -> [(name: String, array: NumpyArray)] {
        try decode(FileBytes.read(path), name: path)
    }

    /// The arrays of an .npz by name.
    public static func readDictionary(_ path: String) throws -> [String: NumpyArray] {
        Dictionary(try read(path), uniquingKeysWith: { first, _ in first })
    }

    public static func decode(_ bytes: [UInt8], name path: String) throws -> [(name: String, array: NumpyArray)] {
        func fail(_ message: String) -> FileError { FileError(path: path, message) }
        // Every offset and size below comes from the file: each is checked against the file's
        // length (CheckedSize.fits) before anything is read at it or allocated for it.
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        /// Zip64 fields are unsigned 64-bit; values past Int.max come out negative and fail `fits`.
        func u64(_ i: Int) -> Int { Int(truncatingIfNeeded: UInt64(u32(i)) | UInt64(u32(i + 4)) << 32) }
        func fits(_ offset: Int, _ length: Int) -> Bool { CheckedSize.fits(offset: offset, length: length, in: bytes.count) }

        // End of central directory: the last signature within the final 64 KiB + 22 bytes.
        guard bytes.count >= 22 else { throw fail("not a zip archive: expected at least 22 bytes (the end record), found \(bytes.count)") }
        var eocd = -1
        var i = bytes.count - 22
        while i >= max(0, bytes.count - 22 - 0xffff) {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4b && bytes[i + 2] == 5 && bytes[i + 3] == 6 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail("not a zip archive: expected an end-of-central-directory record in its last 64 KiB") }
        var entries = u16(eocd + 10)
        var centralSize = u32(eocd + 12)
        var centralOffset = u32(eocd + 16)
        if entries == 0xffff || centralSize == 0xffff_ffff || centralOffset == 0xffff_ffff {
            // Zip64: the locator sits just before the end record and points at the zip64 end record.
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4b50 else { throw fail("zip64 end record fields (0xffff...) without a zip64 locator: expected the locator just before the end record") }
            let record = u64(locator + 8)
            guard fits(record, 56), u32(record) == 0x0606_4b50 else {
                throw fail("bad zip64 end-of-central-directory record: expected its signature at offset \(record) "
                           + "within the file's \(bytes.count) bytes")
            }
            entries = u64(record + 32)
            centralSize = u64(record + 40)
            centralOffset = u64(record + 48)
        }
        guard fits(centralOffset, centralSize) else {
            throw fail("central directory at \(centralOffset) (+\(centralSize) bytes) lies outside the file: "
                       + "expected it within the file's \(bytes.count) bytes (truncated?)")
        }
        // Each entry takes at least 46 bytes of the central directory.
        guard entries >= 0, entries <= centralSize / 46 else {
            throw fail("the central directory claims \(entries) entries: expected at most the \(centralSize / 46) "
                       + "its \(centralSize) bytes can hold")
        }
        var arrays: [(name: String, array: NumpyArray)] = []
        var p = centralOffset
        for entry in 0..<entries {
            guard fits(p, 46), u32(p) == 0x0201_4b50 else { throw fail("central directory entry \(entry): expected its signature at offset \(p)") }
            let method = u16(p + 10)
            let crc = UInt32(u32(p + 16))
            var compressedSize = u32(p + 20)
            var size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = u32(p + 42)
            guard fits(p + 46, nameLength + extraLength + commentLength) else { throw fail("central directory entry \(entry): expected \(nameLength + extraLength + commentLength) bytes of name, extra field and comment, the file ends first") }
            let memberName = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            let memberPath = "\(path):\(memberName)"
            // Zip64 extra field: 64-bit values for those fields set to 0xffffffff, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                guard e + 4 + length <= extraEnd else {
                    throw FileError(path: memberPath, "extra field \(id) of \(length) bytes: expected it within the entry's \(extraLength) extra bytes")
                }
                if id == 1 {
                    var q = e + 4
                    func next64(_ field: String) throws -> Int {
                        guard q + 8 <= e + 4 + length else {
                            throw FileError(path: memberPath, "zip64 extra field of \(length) bytes: expected the 64-bit \(field) in it")
                        }
                        defer { q += 8 }
                        return u64(q)
                    }
                    if size == 0xffff_ffff { size = try next64("size") }
                    if compressedSize == 0xffff_ffff { compressedSize = try next64("compressed size") }
                    if localOffset == 0xffff_ffff { localOffset = try next64("local header offset") }
                }
                e += 4 + length
            }
            p = extraEnd + commentLength

            guard fits(localOffset, 30), u32(localOffset) == 0x0403_4b50 else {
                throw FileError(path: memberPath, "expected a local file header at offset \(localOffset), within the file's \(bytes.count) bytes")
            }
            let dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
            guard fits(dataStart, compressedSize) else {
                throw FileError(path: memberPath, "member data (\(compressedSize) bytes at \(dataStart)) lies outside the file: "
                                + "expected it within the file's \(bytes.count) bytes (truncated?)")
            }
            guard size >= 0 else { throw FileError(path: memberPath, "uncompressed size \(UInt64(bitPattern: Int64(size))): expected at most \(Int.max)") }
            let stored = Array(bytes[dataStart..<(dataStart + compressedSize)])
            let member: [UInt8]
            switch method {
            case 0: member = stored
            case 8:
                // Inflate no further than the size the directory promises (no zip bomb).
                let r = stored.withUnsafeBytes { Zlib.inflate($0, container: .raw, sizeHint: size, limit: size) }
                if r.exceededLimit {
                    throw FileError(path: memberPath, "inflates to more bytes than expected: the central directory gives \(size)")
                }
                member = try r.checked(name: memberPath)
            default: throw FileError(path: memberPath, "compression method \(method) is not supported: expected 0 (stored) or 8 (deflate)")
            }
            guard member.count == size else {
                throw FileError(path: memberPath, "expected \(size) bytes, found \(member.count)")
            }
            let actualCRC = Zlib.crc32(member)
            guard actualCRC == crc else {
                throw FileError(path: memberPath, "CRC-32 mismatch: expected 0x\(Zlib.hex(crc)), found 0x\(Zlib.hex(actualCRC))")
            }
            guard memberName.hasSuffix(".npy") else { continue }  // numpy also ignores others
            arrays.append((String(memberName.dropLast(4)), try NPY.decode(member, name: memberPath)))
        }
        return arrays
    }
}
