import Foundation

/// Per-tensor content hashes in a safetensors file's `__metadata__`: one entry per tensor,
/// `"crc32:<tensor name>": "<8 lowercase hex digits>"`, the CRC-32 (zlib's, as in gzip and
/// PNG; Python: `format(zlib.crc32(data), "08x")`) of the tensor's bytes in the data section.
///
/// The format allows any string-to-string metadata, so the files stay loadable by the
/// `safetensors` package and diffusers, which ignore these keys. CRC-32 detects every
/// corruption of up to 32 consecutive bits (so any one flipped byte) and others with
/// probability 1 - 2^-32; it is a check against damage, not against tampering.
///
/// Files written here carry a hash for every tensor, and every load verifies them. A file
/// with no hash at all (written by diffusers, PyTorch) loads with a note; a file with hashes
/// for some tensors only, or with a malformed hash entry, is refused.
public enum SafetensorsHashes {
    public static let keyPrefix = "crc32:"

    public static func key(forTensor name: String) -> String { keyPrefix + name }

    /// The hash entry for one tensor's bytes.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> String { Zlib.hex(Zlib.crc32(bytes)) }

    static func isHashKey(_ key: String) -> Bool { key.hasPrefix(keyPrefix) }

    /// Splits parsed metadata into the user's entries and the hashes by tensor name, and
    /// checks that the hashes name exactly the file's tensors (or that there are none).
    static func split(_ metadata: [String: String], tensors: [SafetensorsTensorInfo], path: String) throws
        -> (user: [String: String], hashes: [String: String]) {
        var user: [String: String] = [:]
        var hashes: [String: String] = [:]
        for (key, value) in metadata {
            guard isHashKey(key) else { user[key] = value; continue }
            let name = String(key.dropFirst(keyPrefix.count))
            guard value.utf8.count == 8, value.utf8.allSatisfy(isLowerHexDigit) else {
                throw SafetensorsError(.badMetadata, path: path, tensor: name,
                                       expected: "\"\(key)\" as 8 lowercase hex digits (a CRC-32)", found: "\"\(value.prefix(40))\"")
            }
            hashes[name] = value
        }
        if hashes.isEmpty { return (user, hashes) }
        let names = Set(tensors.map(\.name))
        if let stray = hashes.keys.sorted().first(where: { !names.contains($0) }) {
            throw SafetensorsError(.badMetadata, path: path, tensor: stray,
                                   expected: "content hashes for the file's tensors only",
                                   found: "\"\(key(forTensor: stray))\" but no tensor of that name")
        }
        if let unhashed = tensors.first(where: { hashes[$0.name] == nil }) {
            throw SafetensorsError(.badMetadata, path: path, tensor: unhashed.name,
                                   expected: "a content hash for every tensor (\"\(key(forTensor: unhashed.name))\"), as this project writes them",
                                   found: "hashes for \(hashes.count) of \(tensors.count) tensors")
        }
        return (user, hashes)
    }

    private static func isLowerHexDigit(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
    }

    /// Throws `.hashMismatch` naming the first tensor (in file order) whose bytes differ from
    /// its hash. `data` is the data section.
    static func verify(_ hashes: [String: String], tensors: [SafetensorsTensorInfo], data: UnsafeRawBufferPointer,
                       path: String) throws {
        guard !hashes.isEmpty else { return }
        let actual = hashAll(tensors.map { UnsafeRawBufferPointer(rebasing: data[$0.dataOffsets]) })
        for (t, found) in zip(tensors, actual) {
            guard let expected = hashes[t.name], found != expected else { continue }
            throw SafetensorsError(.hashMismatch, path: path, tensor: t.name,
                                   expected: "CRC-32 \(expected) (__metadata__ \"\(key(forTensor: t.name))\")",
                                   found: "CRC-32 \(found) over bytes \(t.dataOffsets.lowerBound)..<\(t.dataOffsets.upperBound) of the data section: the file is damaged")
        }
    }

    /// The hashes of several buffers, on several cores when there is much to hash (a
    /// training state is four tensors of the model's size).
    static func hashAll(_ buffers: [UnsafeRawBufferPointer]) -> [String] {
        let total = buffers.reduce(0) { $0 + $1.count }
        guard total >= 1 << 22, buffers.count > 1 else { return buffers.map(hash) }
        var crcs = [UInt32](repeating: 0, count: buffers.count)
        crcs.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(buffers.count) { i in out[i] = Zlib.crc32(buffers[i]) }
        }
        return crcs.map(Zlib.hex)
    }

    // MARK: - The note for files without hashes

    /// Whether to print the note about files without hashes. The launcher turns it off on
    /// every rank but 0, so a job prints it once.
    public static var notesEnabled: Bool {
        get { notes.withLock { $0.enabled } }
        set { notes.withLock { $0.enabled = newValue } }
    }

    /// Prints the one-line note for `path`, the first time only; true if it printed.
    @discardableResult
    static func noteUnhashed(_ path: String, tensorCount: Int) -> Bool {
        let first = notes.withLock { state -> Bool in
            guard state.enabled else { return false }
            return state.noted.insert(path).inserted
        }
        if first {
            StandardError.write("note: \(path): no content hashes in its metadata (not written by this project, e.g. by diffusers): its \(tensorCount) tensors load unverified\n")
        }
        return first
    }

    private struct NoteState {
        var enabled = true
        var noted = Set<String>()
    }
    private static let notes = LockedValue(NoteState())
}

/// A value behind a lock, for the little process-wide state the readers keep.
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
