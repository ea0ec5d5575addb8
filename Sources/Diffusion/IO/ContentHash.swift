/// A 64-bit FNV-1a hash of file contents, as 16 hex digits: enough to tell whether a cached
/// result was made from the same inputs (not a defence against deliberate collisions).
public struct ContentHash: Sendable {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = state
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        state = h
    }

    public var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// The hash of the files' contents, in order (each file's length is mixed in too, so
    /// moving bytes from one file to the next changes it).
    public static func ofFiles(_ paths: [String]) throws -> String {
        var h = ContentHash()
        for path in paths {
            let bytes = try FileBytes.read(path)
            var length = UInt64(bytes.count)
            h.update(withUnsafeBytes(of: &length) { Array($0) })
            h.update(bytes)
        }
        return h.hex
    }
}
