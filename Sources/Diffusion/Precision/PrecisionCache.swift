import Foundation
import Kernels

/// `--precision auto`'s timings, kept per machine and model so that a run pays for them once:
/// one small JSON file per key in a cache folder, written atomically. A file that does not
/// parse is ignored with a note and measured again; one whose key differs (a hash collision,
/// or another version's fields) is simply measured again.
public struct PrecisionCache: Sendable {
    /// Everything the timing depends on.
    public struct Key: Codable, Sendable, Equatable {
        public let machine: MachineSignature
        /// The backends compared, as `ConvolutionBackend.description`.
        public let fp32Backend, bf16Backend: String
        public let threads, batch: Int
        /// The model's distinct convolution shapes at `batch`: "32x32 3->32 k3 s1 x1".
        public let shapes: [String]

        public init(machine: MachineSignature, fp32Backend: String, bf16Backend: String, threads: Int, batch: Int,
                    shapes: [String]) {
            self.machine = machine; self.fp32Backend = fp32Backend; self.bf16Backend = bf16Backend
            self.threads = threads; self.batch = batch; self.shapes = shapes
        }

        /// The key of `config`'s convolutions timed on `fp32` and `bf16` on this machine with
        /// the current `Parallel` threads.
        public static func current(config: UNetConfig, fp32: ConvolutionBackend, bf16: ConvolutionBackend) -> Key {
            let batch = PrecisionChoice.timingBatch(threads: Parallel.threads)
            let shapes = ConvBenchmark.distinct(config.convolutions(batch: batch)).map { g, count in
                "\(g.h)x\(g.w) \(g.cin)->\(g.cout) k\(g.k) s\(g.stride) x\(count)"
            }
            return Key(machine: .current(), fp32Backend: fp32.description, bf16Backend: bf16.description,
                       threads: Parallel.threads, batch: batch, shapes: shapes)
        }
    }

    /// What a file holds.
    struct Entry: Codable {
        let key: Key
        let choice: PrecisionChoice
    }

    public let folder: String
    public init(folder: String) { self.folder = folder }

    /// `$XDG_CACHE_HOME/fashion-diffusion/precision`, else `~/.cache/fashion-diffusion/precision`.
    public static func defaultFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        UserCache.directory(environment: environment) + "/precision"
    }

    /// The file of `key`: its CRC-32, so that every field takes part in the name.
    public func path(for key: Key) throws -> String {
        let bytes = try Self.encoder.encode(key)
        let crc = bytes.withUnsafeBytes { Zlib.crc32($0) }
        return (folder as NSString).appendingPathComponent("auto-precision-\(Zlib.hex(crc)).json")
    }

    /// The cached choice for `key`, if any; `note` says why a file that exists was not used.
    public func load(_ key: Key) -> (choice: PrecisionChoice?, note: String?) {
        guard let path = try? path(for: key), FileManager.default.fileExists(atPath: path) else { return (nil, nil) }
        do {
            let entry = try JSONDecoder().decode(Entry.self, from: Data(try FileBytes.read(path)))
            return entry.key == key ? (entry.choice, nil) : (nil, nil)
        } catch {
            return (nil, "ignored the precision cache file \(path) (\(Self.reason(error))); measuring again")
        }
    }

    /// Writes `choice` for `key` (creating the folder), atomically; returns the file's path.
    @discardableResult
    public func store(_ choice: PrecisionChoice, for key: Key) throws -> String {
        let path = try path(for: key)
        try FileError.createFolder(folder)
        try FileBytes.writeAtomically(Array(try Self.encoder.encode(Entry(key: key, choice: choice))), to: path)
        return path
    }

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    /// A decoding error as the field it stopped at and what was wrong there.
    static func reason(_ error: Error) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (field.isEmpty ? "" : "field \(field): ") + context.debugDescription
        }
        switch error {
        case DecodingError.keyNotFound(let key, let c): return at(c) + " (missing \(key.stringValue))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.dataCorrupted(let c):
            return at(c)
        default: return "\(error)"
        }
    }
}

extension PrecisionChoice {
    /// The two backends `--precision auto` compares for `library` and `algorithm`, as this
    /// machine runs them, and why bf16 is missing when it came out fp32.
    public static func candidates(_ library: ConvolutionLibrary, _ algorithm: ConvolutionAlgorithm)
        -> (fp32: ConvolutionBackend, bf16: ConvolutionBackend, bf16Missing: String?) {
        let fp32 = ConvolutionBackend.resolve(.requested(library, .fp32, algorithm)).backend
        let (bf16, note) = ConvolutionBackend.resolve(.requested(library, .bf16, algorithm))
        return (fp32, bf16, note)
    }

    /// `cachedOrMeasured` for `library` and `algorithm` in the default cache folder.
    public static func cachedOrMeasured(config: UNetConfig, _ library: ConvolutionLibrary, _ algorithm: ConvolutionAlgorithm)
        -> (choice: PrecisionChoice, source: String, notes: [String]) {
        let (fp32, bf16, missing) = candidates(library, algorithm)
        return cachedOrMeasured(config: config, fp32: fp32, bf16: bf16, bf16Missing: missing,
                                cache: PrecisionCache(folder: PrecisionCache.defaultFolder()))
    }

    /// The choice for `config` on `fp32` and `bf16`: from `cache` when it holds one for this
    /// machine, else measured (and stored). `source` says which ("cached in PATH", "measured
    /// now in 2.1 s, cached in PATH"); `notes` what went wrong with the cache, if anything.
    public static func cachedOrMeasured(config: UNetConfig, fp32: ConvolutionBackend, bf16: ConvolutionBackend,
                                        bf16Missing: String?, cache: PrecisionCache?)
        -> (choice: PrecisionChoice, source: String, notes: [String]) {
        guard case .oneDNN(.bf16, _) = bf16, let cache else {
            let choice = measure(config: config, fp32: fp32, bf16: bf16, bf16Missing: bf16Missing)
            return (choice, choice.fp32 == nil ? "nothing to time" : "measured now", [])
        }
        let key = PrecisionCache.Key.current(config: config, fp32: fp32, bf16: bf16)
        let (cached, note) = cache.load(key)
        var notes = note.map { [$0] } ?? []
        if let cached, let path = try? cache.path(for: key) { return (cached, "cached in \(path)", notes) }
        let choice = measure(config: config, fp32: fp32, bf16: bf16, bf16Missing: bf16Missing)
        var source = String(format: "measured now in %.1f s", choice.measuringSeconds)
        do {
            source += ", cached in \(try cache.store(choice, for: key))"
        } catch {
            notes.append("could not cache the precision choice: \(error)")
        }
        return (choice, source, notes)
    }
}
