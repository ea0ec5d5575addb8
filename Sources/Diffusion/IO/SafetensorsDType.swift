/// The element types the safetensors format defines, in the reference implementation's
/// order (increasing alignment; its writer lays tensors out in decreasing order of this).
/// All are recognised so that any valid file opens and has its sizes checked; conversion
/// to Float32 covers F32, F16, BF16, F64, I64 and I32.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6E2M3, .f6E3M2: return 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Position in the reference ordering (the writer sorts by this, descending).
    var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static var convertibleToFloat: [SafetensorsDType] { [.f32, .f16, .bf16, .f64, .i64, .i32] }
}

// MARK: - Element decoding (little-endian, unaligned)

extension SafetensorsDType {
    /// Decodes `count` elements at `source` into Float32; false if this dtype is not supported.
    /// `source` holds at least `count * bitSize / 8` bytes.
    func decodeFloats(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) -> Bool {
        switch self {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .f16:
            for i in 0..<count {
                out[i] = halfToFloat(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f64:
            for i in 0..<count {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case .i64:
            for i in 0..<count {
                out[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            }
        case .i32:
            for i in 0..<count {
                out[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            }
        default:
            return false
        }
        return true
    }
}

/// IEEE 754 binary16 to binary32, exact (every half is a float), by bit manipulation so it
/// does not depend on the platform having `Float16`.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa × 2^-24.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // inf or NaN (payload kept)
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
