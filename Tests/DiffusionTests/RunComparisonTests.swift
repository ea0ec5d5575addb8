import Foundation
import Testing
@testable import Diffusion

/// `launcher compare-runs`'s reading and table, and the named training recipes.
struct RunComparisonTests {
    func run(_ records: [(step: Int, fid: Double?)], in dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = try EvaluationLog(path: dir + "/" + EvaluationLog.fileName, keepThrough: 0)
        for r in records {
            try log.append(EvaluationRecord(step: r.step, imagesSeen: r.step * 64, trainSeconds: Double(r.step), evalSeconds: 1,
                                            weights: "ema", sampler: "ddim", n: 100, fid: r.fid, kid: r.fid.map { $0 / 100 },
                                            kidStd: 0, grid: nil))
        }
        return dir
    }

    @Test func rowsGiveLastAndBestAndTheTableSortsByLast() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("runs-\(UUID().uuidString)").path
        let a = try run([(10, 9), (20, 4), (30, 5)], in: base + "/a")
        let b = try run([(10, 8), (20, 3)], in: base + "/b")
        let c = try RunComparison(folders: [a, b], names: ["one", "two"])
        #expect(c.rows.map(\.name) == ["one", "two"])
        #expect(c.rows[0].lastFID == 5 && c.rows[0].bestFID == 4 && c.rows[0].bestStep == 20 && c.rows[0].steps == 30)
        let table = c.markdown.split(separator: "\n")
        #expect(table[2].hasPrefix("| two |") && table[3].hasPrefix("| one |"))
        #expect(c.plot().width == 900)
        #expect(try RunComparison(folders: [a]).rows[0].name == "a")
    }

    @Test func aFolderWithoutEvaluationsOrWithABadLineIsNamed() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("runs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/empty", withIntermediateDirectories: true)
        #expect { try RunComparison(folders: [base + "/empty"]) } throws: { "\($0)".contains("--eval-every") }
        let bad = try run([(10, 2)], in: base + "/bad")
        try ("{\"step\": 1}\n").write(toFile: bad + "/" + EvaluationLog.fileName, atomically: true, encoding: .utf8)
        #expect { try RunComparison(folders: [bad]) } throws: { "\($0)".contains("line 1 is not an evaluation record") }
    }

    @Test func recipesSetTheirFieldsAndTheRecipeIsTheDefaults() {
        #expect(TrainingRecipe.recipe.options == TrainingOptions())
        #expect(TrainingRecipe.recipe.fields.isEmpty)
        let fast = TrainingRecipe.fast
        #expect(!fast.fields.isEmpty)
        let defaults = TrainingOptions().fields, mine = fast.options.fields
        for field in fast.fields { #expect(defaults[field] != mine[field], "\(field)") }
        #expect((try? fast.options.validate()) != nil)
    }
}
