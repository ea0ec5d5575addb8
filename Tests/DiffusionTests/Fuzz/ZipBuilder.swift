@testable import Diffusion

/// Builds zip archives the .npz writer does not make: deflated members (numpy.savez_compressed)
/// and zip64 records (sizes, offsets and the end record in 64-bit fields), with every field's
/// position known so fuzz tests and crafted-archive tests can aim at them.
enum ZipBuilder {
    struct Member {
        var name: String
        var data: [UInt8]
        var deflate = false
        /// Sizes and the local header offset in a zip64 extra field (32-bit fields 0xffffffff).
        var zip64 = false
    }

    static func build(_ members: [Member], zip64End: Bool = false) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for m in members {
            let stored = m.deflate ? Zlib.compress(m.data, container: .raw, level: 6) : m.data
            let name = Array(m.name.utf8)
            let crc = Zlib.crc32(m.data)
            let offset = out.count
            let extra: [UInt8] = m.zip64 ? {
                var e: [UInt8] = []
                e.appendLittleEndian(UInt16(1)); e.appendLittleEndian(UInt16(24))
                e.appendLittleEndian(UInt64(m.data.count)); e.appendLittleEndian(UInt64(stored.count))
                e.appendLittleEndian(UInt64(offset))
                return e
            }() : []
            func sizes(_ v: Int) -> UInt32 { m.zip64 ? 0xffff_ffff : UInt32(v) }
            out.appendLittleEndian(UInt32(0x0403_4b50))
            out.appendLittleEndian(UInt16(m.zip64 ? 45 : 20)); out.appendLittleEndian(UInt16(0))
            out.appendLittleEndian(UInt16(m.deflate ? 8 : 0)); out.appendLittleEndian(UInt32(0x0021_0000))
            out.appendLittleEndian(crc)
            out.appendLittleEndian(sizes(stored.count)); out.appendLittleEndian(sizes(m.data.count))
            out.appendLittleEndian(UInt16(name.count)); out.appendLittleEndian(UInt16(0))
            out += name + stored

            central.appendLittleEndian(UInt32(0x0201_4b50))
            central.appendLittleEndian(UInt16(0x032d)); central.appendLittleEndian(UInt16(m.zip64 ? 45 : 20))
            central.appendLittleEndian(UInt16(0)); central.appendLittleEndian(UInt16(m.deflate ? 8 : 0))
            central.appendLittleEndian(UInt32(0x0021_0000)); central.appendLittleEndian(crc)
            central.appendLittleEndian(sizes(stored.count)); central.appendLittleEndian(sizes(m.data.count))
            central.appendLittleEndian(UInt16(name.count)); central.appendLittleEndian(UInt16(extra.count))
            central.appendLittleEndian(UInt16(0)); central.appendLittleEndian(UInt16(0)); central.appendLittleEndian(UInt16(0))
            central.appendLittleEndian(UInt32(0o100644) << 16)
            central.appendLittleEndian(m.zip64 ? 0xffff_ffff : UInt32(offset))
            central += name + extra
        }
        let centralOffset = out.count
        out += central
        if zip64End {
            let record = out.count
            out.appendLittleEndian(UInt32(0x0606_4b50)); out.appendLittleEndian(UInt64(44))
            out.appendLittleEndian(UInt16(45)); out.appendLittleEndian(UInt16(45))
            out.appendLittleEndian(UInt32(0)); out.appendLittleEndian(UInt32(0))
            out.appendLittleEndian(UInt64(members.count)); out.appendLittleEndian(UInt64(members.count))
            out.appendLittleEndian(UInt64(central.count)); out.appendLittleEndian(UInt64(centralOffset))
            out.appendLittleEndian(UInt32(0x0706_4b50)); out.appendLittleEndian(UInt32(0))
            out.appendLittleEndian(UInt64(record)); out.appendLittleEndian(UInt32(1))
        }
        out.appendLittleEndian(UInt32(0x0605_4b50))
        out.appendLittleEndian(UInt16(0)); out.appendLittleEndian(UInt16(0))
        out.appendLittleEndian(zip64End ? 0xffff : UInt16(members.count)); out.appendLittleEndian(zip64End ? 0xffff : UInt16(members.count))
        out.appendLittleEndian(zip64End ? 0xffff_ffff : UInt32(central.count))
        out.appendLittleEndian(zip64End ? 0xffff_ffff : UInt32(centralOffset))
        out.appendLittleEndian(UInt16(0))
        return out
    }

    /// The integer fields of every zip record found by its signature, for the mutator.
    static func fields(_ bytes: [UInt8]) -> FuzzLayout {
        var layout = FuzzLayout()
        func add(_ base: Int, _ fields: [(Int, Int)]) {
            for (offset, width) in fields where base + offset + width <= bytes.count {
                layout.integers.append(.init(offset: base + offset, width: width))
            }
            layout.boundaries += fields.map { base + $0.0 } + [base + (fields.last.map { $0.0 + $0.1 } ?? 0)]
        }
        func u16(_ i: Int) -> Int { i + 2 <= bytes.count ? Int(bytes[i]) | Int(bytes[i + 1]) << 8 : 0 }
        var i = 0
        while i + 4 <= bytes.count {
            guard bytes[i] == 0x50, bytes[i + 1] == 0x4b else { i += 1; continue }
            switch (bytes[i + 2], bytes[i + 3]) {
            case (3, 4):  // local header: method, crc, sizes, name and extra lengths
                add(i, [(8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)])
                layout.boundaries.append(i + 30 + u16(i + 26) + u16(i + 28))
            case (1, 2):  // central entry: method, crc, sizes, lengths, local offset; zip64 extra values
                add(i, [(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)])
                let extra = i + 46 + u16(i + 28)
                if u16(i + 30) >= 4 {
                    add(extra, [(0, 2), (2, 2)] + stride(from: 4, to: u16(i + 30), by: 8).map { ($0, 8) })
                }
            case (5, 6):  // end record: entry counts, directory size and offset
                add(i, [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)])
            case (6, 6):  // zip64 end record
                add(i, [(4, 8), (24, 8), (32, 8), (40, 8), (48, 8)])
            case (6, 7):  // zip64 locator: the end record's offset
                add(i, [(4, 4), (8, 8), (16, 4)])
            default: break
            }
            i += 4
        }
        return layout
    }
}
