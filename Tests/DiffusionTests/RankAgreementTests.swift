import Foundation
import Testing
@testable import Diffusion

/// Ranks compare their options before any other collective; a difference is the same error
/// on every rank, naming the option (threads standing in for ranks).
@Suite struct RankAgreementTests {
    @Test func sameOptionsPass() throws {
        let fields: [RankAgreement.Field] = [("command", "train"), ("--seed", "1"), ("--out", "a\tb\nc")]
        _ = try ThreadGroup.run(size: 3) { group in try RankAgreement.check(fields, group: group) }
    }

    @Test func aDifferenceIsAnErrorOnEveryRankNamingTheOption() throws {
        let outcomes = try ThreadGroup.run(size: 3) { group -> String in
            let seed = group.rank == 2 ? "2" : "1"
            do {
                try RankAgreement.check([("command", "train"), ("--seed", seed), ("--n", "4")], group: group)
                return "passed"
            } catch let failure as DisagreementFailure {
                return failure.message
            }
        }
        for (rank, message) in outcomes.enumerated() {
            #expect(message.contains("--seed: 1 on rank 0"), "rank \(rank): \(message)")
            #expect(!message.contains("--n:"), "rank \(rank): \(message)")
        }
        #expect(outcomes[2].contains("2 on this rank"))
        #expect(!outcomes[1].contains("on this rank"))
    }

    @Test func differentCommandsAreNamedAlone() throws {
        let outcomes = try ThreadGroup.run(size: 2) { group -> String in
            let fields: [RankAgreement.Field] = group.rank == 0 ? [("command", "train"), ("--seed", "1")]
                : [("command", "sample"), ("--model", "m")]
            do { try RankAgreement.check(fields, group: group); return "passed" } catch { return "\(error)" }
        }
        #expect(outcomes[1].contains("command: train on rank 0, sample on this rank"), "\(outcomes[1])")
        #expect(outcomes.allSatisfy { !$0.contains("--seed") && $0 != "passed" }, "\(outcomes)")
    }

    @Test func aLocalFailureReachesEveryRank() throws {
        struct Local: Error {}
        let outcomes = try ThreadGroup.run(size: 3) { group -> String in
            do {
                return try group.together { () throws -> String in
                    if group.rank == 1 { throw FileError(path: "f", "unreadable") }
                    return "ok"
                }
            } catch let failure as TogetherFailure { return failure.message }
        }
        #expect(outcomes[1] == "f: unreadable")
        #expect(outcomes[0].contains("1 other rank(s) failed") && outcomes[2].contains("1 other rank(s) failed"))
        #expect(try ThreadGroup.run(size: 2) { group in try group.together { group.rank } } == [0, 1])
    }
}
