import Foundation

/// An error every rank of the group throws at the same point, having learnt it through a
/// collective: the job can end with a message and a clean exit on every rank, no MPI_Abort.
public protocol CollectiveFailure: Error, CustomStringConvertible {}

/// Rank 0's failure to read something, passed to every rank (`Collectives.rootLoads`).
public struct RootFailure: CollectiveFailure {
    public let message: String
    public var description: String { message }
}

/// Ranks that were started with different options or inputs (`RankAgreement.check`).
public struct DisagreementFailure: CollectiveFailure, Equatable {
    public let message: String
    public var description: String { message }
}

extension Collectives {
    /// Rank 0 runs `load`; its success or its error reaches every rank, so none is left waiting
    /// in a collective. Only rank 0 gets the value (nil elsewhere): share it with broadcasts.
    public func rootLoads<T>(_ load: () throws -> T) throws -> T? {
        var value: T?
        var message = ""
        if isRoot {
            do { value = try load() } catch { message = "\(error)" }
        }
        let agreed = try broadcast(message)
        if !agreed.isEmpty { throw RootFailure(message: agreed) }
        return value
    }
}

/// A local step's failure, made known to every rank (`Collectives.together`).
public struct TogetherFailure: CollectiveFailure {
    public let message: String
    public var description: String { message }
}

extension Collectives {
    /// Runs `body` (no collectives inside) on every rank; if it throws on any rank, every rank
    /// throws: its own error, or news of the others'. A check that could fail on some ranks
    /// only (a file each rank reads) then cannot leave the others waiting.
    public func together<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        var mine = 0.0
        if case .failure = result { mine = 1 }
        let failed = try allreduceSum([mine])[0]
        switch result {
        case .success(let value) where failed == 0: return value
        case .success: throw TogetherFailure(message: "\(Int(failed)) other rank(s) failed; see their messages")
        case .failure(let error): throw TogetherFailure(message: "\(error)")
        }
    }
}

/// Every rank must run with the same options (those that change what the ranks do together):
/// a rank that differs would otherwise wait forever in a collective the others never enter, or
/// mix its results into theirs. Call before any other collective that depends on them.
public enum RankAgreement {
    /// A named value ("--seed" = "1") that every rank must hold alike.
    public typealias Field = (name: String, value: String)

    /// Rank 0 broadcasts its fields; each rank compares and the differences are summed, so
    /// every rank learns which of rank 0's fields differ somewhere and throws the same
    /// `DisagreementFailure` (naming, on a differing rank, its value beside rank 0's).
    public static func check(_ fields: [Field], group: Collectives) throws {
        guard group.size > 1 else { return }
        let mine = encode(fields)
        let root = try group.broadcast(group.isRoot ? mine : "")
        let theirs = decode(root)
        let own = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        // One slot per field of rank 0, and one for fields rank 0 does not have.
        var differs = theirs.map { own[$0.name] != $0.value ? 1.0 : 0.0 }
        let rootNames = Set(theirs.map(\.name))
        let extra = fields.filter { !rootNames.contains($0.name) }
        differs.append(extra.isEmpty ? 0 : 1)
        let counts = try group.allreduceSum(differs)
        guard counts.contains(where: { $0 > 0 }) else { return }

        // Different commands differ in every option: name the commands only.
        let commandDiffers = theirs.first.map { $0.name == commandField && counts[0] > 0 } ?? false
        var parts: [String] = []
        for (i, field) in theirs.enumerated() where counts[i] > 0 && (!commandDiffers || i == 0) {
            let here = own[field.name].map { $0 == field.value ? "" : ", \(quoted($0)) on this rank" } ?? ", not given on this rank"
            parts.append("\(field.name): \(quoted(field.value)) on rank 0\(here) (\(Int(counts[i])) rank(s) differ)")
        }
        if let last = counts.last, last > 0, !commandDiffers {
            parts.append(extra.isEmpty ? "options rank 0 does not have, on \(Int(last)) rank(s)"
                         : extra.map { "\($0.name): \(quoted($0.value)) on this rank, not on rank 0" }.joined(separator: "; "))
        }
        throw DisagreementFailure(message: "ranks were started with different options (every rank must run the same "
                                  + "command and options): " + parts.joined(separator: "; "))
    }

    /// The field naming the command, first in every command's list.
    public static let commandField = "command"

    static func quoted(_ s: String) -> String { s.isEmpty ? "''" : s }

    // One field per line, name and value separated by a tab; tabs and newlines escaped.
    static func encode(_ fields: [Field]) -> String {
        fields.map { escape($0.name) + "\t" + escape($0.value) }.joined(separator: "\n")
    }

    static func decode(_ text: String) -> [Field] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            return (unescape(String(parts[0])), parts.count > 1 ? unescape(String(parts[1])) : "")
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func unescape(_ s: String) -> String {
        var out = "", escaping = false
        for c in s {
            if escaping {
                out.append(c == "t" ? "\t" : c == "n" ? "\n" : c)
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
