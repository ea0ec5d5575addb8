/// CRC-32C (Castagnoli): the checksum TFRecord files use, reflected polynomial 0x82F63B78,
/// initial value and final XOR 0xFFFFFFFF (check value: "123456789" gives 0xE3069283).
/// Byte-at-a-time from a 256-entry table: an event file is a few records a step.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The checksum as TFRecord stores it: rotated right by 15 bits plus a constant, so a
    /// CRC of data that itself holds CRCs does not come out trivially (TensorFlow's
    /// lib/hash/crc32c.h, `Mask`).
    public static func masked<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
