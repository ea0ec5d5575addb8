import Foundation
import Testing
@testable import Diffusion

/// The one mutation engine behind every file-format fuzz test: seeded (`RandomStream`), so a
/// failing mutant is reproduced by its format, seed and index.
///
/// A format describes where its fields are (`FuzzLayout`): integers in binary headers, a text
/// region (JSON, a Python dict) with a way to put edited text back and fix its length field.
/// Formats inside formats (a zip member, a gzip payload, a metadata string) are `FuzzLayer`s,
/// mutated on their own and re-wrapped with valid checksums, so the checks behind those
/// checksums are reached too.
struct FuzzLayout {
    struct Integer {
        var offset: Int
        var width: Int
        var bigEndian = false
    }

    var integers: [Integer] = []
    /// The text region whose tokens are edited.
    var text: Range<Int>? = nil
    /// Puts edited text back (default: splice it in); formats fix length fields here.
    var replaceText: ((_ bytes: inout [UInt8], _ text: [UInt8], _ fixLength: Bool) -> Void)? = nil
    /// Where truncation is most telling: the ends of headers, records and fields.
    var boundaries: [Int] = []
    /// Strings the format gives meaning to (dtype names, key names, block types).
    var words: [String] = []
    /// Mutations only this format can make (moving a tensor's data range as a whole).
    var extras: [(inout [UInt8], inout Mutator) -> Void] = []
}

/// A format nested in the file: how to take it out and put it back properly.
struct FuzzLayer {
    let name: String
    let extract: ([UInt8]) -> [UInt8]?
    let rebuild: (_ outer: [UInt8], _ inner: [UInt8]) -> [UInt8]?
    let layout: ([UInt8]) -> FuzzLayout
}

struct Mutator {
    var random: RandomStream

    init(seed: UInt64) { random = RandomStream(seed: seed) }

    static let boundaryBytes: [UInt8] = [0, 0xFF, 0x7F, 0x80]

    /// Hostile replacements for a number in text: zero, negative, huge, non-integers, values
    /// past 64 bits, spellings JSON does not allow, and the old value nudged.
    static func hostileNumbers(near old: String) -> [String] {
        let n = Int(old) ?? 0
        return ["0", "-1", "1", "-0", "2.5", "1e308", "-1e308", "1e999", "NaN", "Infinity", "-Infinity",
                "18446744073709551616", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                "4294967296", "4294967295", "65536", "2147483648", "007", "1.0e+2", "1E2", "0x10",
                "1" + String(repeating: "0", count: 400), "\(n &+ 1)", "\(n &- 1)", "\(n &* 2)", "\(n / 2)",
                "\(n &+ 8)", "\(n &- 8)", "\(0 &- n)"]
    }

    mutating func pick<T>(_ items: [T]) -> T { items[random.int(below: items.count)] }
    mutating func chance(_ percent: Int) -> Bool { random.int(below: 100) < percent }
    mutating func byte() -> UInt8 { chance(50) ? pick(Self.boundaryBytes) : UInt8(truncatingIfNeeded: random.next()) }

    /// Applies one to three mutations, to the file itself or to one of its layers.
    mutating func mutant(of base: [UInt8], layout: ([UInt8]) -> FuzzLayout, layers: [FuzzLayer]) -> [UInt8] {
        var bytes = base
        let rounds = chance(75) ? 1 : 2 + random.int(below: 2)
        for _ in 0..<rounds {
            if !layers.isEmpty && chance(50) {
                let layer = pick(layers)
                guard var inner = layer.extract(bytes) else { continue }
                mutate(&inner, layer.layout(inner))
                if let rebuilt = layer.rebuild(bytes, inner) { bytes = rebuilt }
            } else {
                mutate(&bytes, layout(bytes))
            }
        }
        return bytes
    }

    mutating func mutate(_ bytes: inout [UInt8], _ layout: FuzzLayout) {
        if !layout.extras.isEmpty && chance(10) {
            return layout.extras[random.int(below: layout.extras.count)](&bytes, &self)
        }
        switch random.int(below: 12) {
        case 0:  // bit flip
            guard !bytes.isEmpty else { return }
            bytes[random.int(below: bytes.count)] ^= UInt8(1) << UInt8(random.int(below: 8))
        case 1:  // a byte to a boundary value or a random one
            guard !bytes.isEmpty else { return }
            let i = chance(50) && !layout.boundaries.isEmpty ? min(max(pick(layout.boundaries) - 1, 0), bytes.count - 1)
                                                              : random.int(below: bytes.count)
            bytes[i] = byte()
        case 2:  // truncation: anywhere, or at a field boundary (+-1)
            let at = chance(50) && !layout.boundaries.isEmpty ? pick(layout.boundaries) + random.int(below: 3) - 1
                                                               : random.int(below: bytes.count + 1)
            bytes.removeLast(bytes.count - min(max(at, 0), bytes.count))
        case 3:  // insertion
            let n = 1 + random.int(below: chance(80) ? 8 : 300)
            bytes.insert(contentsOf: (0..<n).map { _ in byte() }, at: random.int(below: bytes.count + 1))
        case 4:  // deletion
            guard !bytes.isEmpty else { return }
            let start = random.int(below: bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.int(below: 16)))
        case 5:  // duplication of a chunk
            guard !bytes.isEmpty else { return }
            let start = random.int(below: bytes.count)
            let chunk = Array(bytes[start..<min(bytes.count, start + 1 + random.int(below: 64))])
            bytes.insert(contentsOf: chunk, at: random.int(below: bytes.count + 1))
        case 6, 7:  // an integer field
            guard !layout.integers.isEmpty else { return mutateText(&bytes, layout) }
            mutateInteger(&bytes, pick(layout.integers))
        default:  // the text region
            guard layout.text != nil else {
                if !layout.integers.isEmpty { mutateInteger(&bytes, pick(layout.integers)) }
                return
            }
            mutateText(&bytes, layout)
        }
    }

    mutating func mutateInteger(_ bytes: inout [UInt8], _ field: FuzzLayout.Integer) {
        guard field.offset >= 0, field.offset + field.width <= bytes.count else { return }
        let bits = UInt64(field.width * 8)
        let mask: UInt64 = bits == 64 ? .max : (1 << bits) - 1
        var old: UInt64 = 0
        for k in 0..<field.width {
            let b = UInt64(bytes[field.offset + (field.bigEndian ? k : field.width - 1 - k)])
            old = old << 8 | b
        }
        let value = pick([0, 1, mask, mask - 1, mask >> 1, (mask >> 1) + 1, old &+ 1, old &- 1, old &* 2, old / 2,
                          old &+ 8, old &- 8, old &+ 46, UInt64(bytes.count), UInt64(bytes.count) &+ 1,
                          UInt64(bytes.count) &- UInt64(field.offset), random.next(), UInt64(random.int(below: bytes.count + 1))]) & mask
        for k in 0..<field.width {
            let shift = UInt64(8 * (field.bigEndian ? field.width - 1 - k : k))
            bytes[field.offset + k] = UInt8(truncatingIfNeeded: value >> shift)
        }
    }

    mutating func mutateText(_ bytes: inout [UInt8], _ layout: FuzzLayout) {
        guard let region = layout.text, region.upperBound <= bytes.count else { return }
        var text = Array(bytes[region])
        let tokens = Self.tokens(text)
        switch random.int(below: 6) {
        case 0, 1:  // a number
            guard let token = tokens.numbers.isEmpty ? nil : pick(tokens.numbers) else { return }
            text.replaceSubrange(token, with: Array(pick(Self.hostileNumbers(near: String(decoding: text[token], as: UTF8.self))).utf8))
        case 2:  // a string
            guard let token = tokens.strings.isEmpty ? nil : pick(tokens.strings) else { return }
            let replacement = pick(layout.words + ["", "x", "\\u0000", "\\ud800", "é", String(repeating: "a", count: 200), "\\\""])
            text.replaceSubrange(token, with: Array(replacement.utf8))
        case 3:  // deep nesting
            let depth = pick([63, 64, 65, 100, 1000])
            let at = random.int(below: text.count + 1)
            text.insert(contentsOf: Array((String(repeating: "[", count: depth) + String(repeating: "]", count: chance(50) ? depth : 0)).utf8), at: at)
        case 4:  // a structural character removed or added
            if chance(50), !text.isEmpty {
                text.remove(at: random.int(below: text.count))
            } else {
                text.insert(pick(Array("{}[](),:\"' -0.e\\nulTF".utf8)), at: random.int(below: text.count + 1))
            }
        default:  // a span duplicated (repeated keys and entries) or removed
            guard text.count > 2 else { return }
            let a = random.int(below: text.count), b = min(text.count, a + 1 + random.int(below: 80))
            if chance(50) { text.insert(contentsOf: Array(text[a..<b]), at: random.int(below: text.count + 1)) } else { text.removeSubrange(a..<b) }
        }
        if let replace = layout.replaceText {
            replace(&bytes, text, chance(85))
        } else {
            bytes.replaceSubrange(region, with: text)
        }
    }

    /// Byte ranges of the number tokens and of the string contents (between the quotes) of
    /// JSON or Python-literal text.
    static func tokens(_ text: [UInt8]) -> (numbers: [Range<Int>], strings: [Range<Int>]) {
        var numbers: [Range<Int>] = [], strings: [Range<Int>] = []
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let start = i + 1
                i += 1
                while i < text.count, text[i] != c {
                    if text[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
                strings.append(start..<min(i, text.count))
                i += 1
            } else if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
                let start = i
                while i < text.count, "-+.eE0123456789".utf8.contains(text[i]) { i += 1 }
                numbers.append(start..<i)
            } else {
                i += 1
            }
        }
        return (numbers, strings)
    }
}

/// Runs a format's mutants and checks the promise every reader makes: a mutant either
/// loads into a valid object (the format's `load` checks that) or throws one of the
/// project's typed errors, naming the file and saying what was expected.
struct FuzzHarness {
    /// Mutants per format: 10,000 by default; FUZZ_MUTANTS=100000 for a longer run.
    static let mutantCount: Int = ProcessInfo.processInfo.environment["FUZZ_MUTANTS"].flatMap(Int.init) ?? 10_000

    struct Outcome {
        var loaded = 0
        var failed = 0
        /// Error messages with the file name and digits taken out, counted: which checks were reached.
        var messages: [String: Int] = [:]

        func reached(_ fragment: String) -> Bool {
            let shaped = String(fragment.map { $0.isNumber ? "#" : $0 })
            return messages.keys.contains { $0.contains(shaped) }
        }

        /// The most frequent messages, for a failure report.
        var summary: String {
            "loaded \(loaded), failed \(failed); most frequent errors:\n"
                + messages.sorted { $0.value > $1.value }.prefix(25).map { "  \($0.value)x \($0.key)" }.joined(separator: "\n")
        }
    }

    static func isTyped(_ error: Error) -> Bool {
        error is FileError || error is SafetensorsError || error is ConfigError || error is DataError
    }

    /// The message shape of an error: file names and numbers removed, so identical checks group.
    static func shape(_ message: String, name: String) -> String {
        String(message.replacingOccurrences(of: name, with: "<file>")
            .map { $0.isNumber ? "#" : $0 }.prefix(90))
    }

    static func run(_ format: String, base: [UInt8], seed: UInt64, count: Int = mutantCount,
                    layout: ([UInt8]) -> FuzzLayout, layers: [FuzzLayer] = [],
                    load: ([UInt8], String) throws -> Void) -> Outcome {
        var mutator = Mutator(seed: seed)
        var outcome = Outcome()
        var untyped: [String] = [], unnamed: [String] = [], unexplained: [String] = []
        for index in 0..<count {
            let bytes = mutator.mutant(of: base, layout: layout, layers: layers)
            let name = "/fuzz/\(format)-\(seed)-\(index)"
            do {
                try load(bytes, name)
                outcome.loaded += 1
            } catch {
                outcome.failed += 1
                let message = "\(error)"
                if !isTyped(error) { untyped.append("\(name): \(type(of: error)): \(message)") }
                if !message.contains(name) { unnamed.append(message) }
                if !message.contains("expected") && !message.contains("supported") { unexplained.append(message) }
                outcome.messages[shape(message, name: name), default: 0] += 1
            }
        }
        FuzzReport.record(format: format, untyped: untyped, unnamed: unnamed, unexplained: unexplained)
        return outcome
    }
}

/// The failures of one run, turned into test issues (at most a few of each, with counts).
enum FuzzReport {
    static func record(format: String, untyped: [String], unnamed: [String], unexplained: [String]) {
        for (what, list) in [("an error of a type that is not the project's", untyped),
                             ("an error that does not name the file", unnamed),
                             ("an error that does not say what was expected", unexplained)] where !list.isEmpty {
            // One example of each kind of message.
            var seen = Set<String>(), examples: [String] = []
            for message in list where seen.insert(String(message.drop { $0 != ":" }.map { $0.isNumber ? "#" : $0 }.prefix(50))).inserted {
                examples.append(message)
            }
            Issue.record(Comment(rawValue: "\(format): \(list.count) mutants threw \(what), e.g.\n"
                                 + examples.prefix(40).joined(separator: "\n")))
        }
    }
}
