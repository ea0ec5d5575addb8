import Foundation
import Testing
@testable import Diffusion

/// The shared range check, the training options' validation (flags and stored states alike),
/// the resume conflict rule and the plan's overflow check.
@Suite struct OptionCheckTests {
    @Test func numbersMustBeFiniteAndInRange() throws {
        #expect(throws: OptionError("--max-lr", "must be a finite number in (0, 10], got inf")) {
            try OptionCheck.number(.infinity, "--max-lr", 0, 10, lowerOpen: true)
        }
        #expect(throws: OptionError("--pct-start", "must be a finite number in (0, 1), got nan")) {
            try OptionCheck.number(.nan, "--pct-start", 0, 1, lowerOpen: true, upperOpen: true)
        }
        #expect(throws: OptionError.self) { try OptionCheck.number(0, "--x", 0, 1, lowerOpen: true) }
        #expect(throws: OptionError.self) { try OptionCheck.number(1, "--x", 0, 1, upperOpen: true) }
        try OptionCheck.number(0, "--x", 0, 1)
        try OptionCheck.number(1, "--x", 0, 1)
        #expect(throws: OptionError("--n", "must be >= 1, got -1")) { try OptionCheck.integer(-1, "--n", 1...Int.max) }
        #expect(throws: OptionError("--n", "must be in 1...9, got 10")) { try OptionCheck.integer(10, "--n", 1...9) }
        #expect(throws: OptionError.self) { _ = try OptionCheck.product(Int.max / 2, 3, "plan") }
        #expect(try OptionCheck.product(1 << 20, 1 << 20, "plan") == 1 << 40)
    }

    /// Each field set to a bad value fails with that field's name; the defaults pass.
    static var spoilers: [(String, (inout TrainingOptions) -> Void)] { [
        ("batchSize", { (o: inout TrainingOptions) in o.batchSize = 0 }),
        ("batchSize", { (o: inout TrainingOptions) in o.batchSize = -3 }),
        ("epochs", { (o: inout TrainingOptions) in o.epochs = 0 }),
        ("maxSteps", { (o: inout TrainingOptions) in o.maxSteps = 0 }),
        ("trainSubset", { (o: inout TrainingOptions) in o.trainSubset = -5 }),
        ("maxLR", { (o: inout TrainingOptions) in o.maxLR = .infinity }),
        ("maxLR", { (o: inout TrainingOptions) in o.maxLR = 0 }),
        ("pctStart", { (o: inout TrainingOptions) in o.pctStart = .nan }),
        ("divFactor", { (o: inout TrainingOptions) in o.divFactor = 0 }),
        ("finalDivFactor", { (o: inout TrainingOptions) in o.finalDivFactor = -1 }),
        ("beta2", { (o: inout TrainingOptions) in o.beta2 = 2 }),
        ("adamEps", { (o: inout TrainingOptions) in o.adamEps = .nan }),
        ("betaMax", { (o: inout TrainingOptions) in o.betaMax = 1 }),
        ("timesteps", { (o: inout TrainingOptions) in o.timesteps = 0 }),
        ("maxGradNorm", { (o: inout TrainingOptions) in o.maxGradNorm = -1 }),
        ("baseMomentum", { (o: inout TrainingOptions) in o.baseMomentum = .infinity }),
    ] }

    @Test(arguments: spoilers.indices)
    func trainingOptionsNameTheBadField(index: Int) throws {
        let (field, spoil) = Self.spoilers[index]
        try TrainingOptions().validate()
        var o = TrainingOptions()
        spoil(&o)
        do {
            try o.validate(name: { "<\($0)>" })
            Issue.record("expected an error for \(field)")
        } catch let error as OptionError {
            #expect(error.option == "<\(field)>", "\(error)")
        }
    }

    @Test func planMustFitTheData() throws {
        var o = TrainingOptions()
        o.batchSize = 100
        #expect(throws: OptionError.self) { try o.validatePlan(datasetSize: 99) }
        try o.validatePlan(datasetSize: 100)
        o.batchSize = 1
        o.epochs = Int.max / 2
        #expect(throws: OptionError.self) { try o.validatePlan(datasetSize: 60_000) }
    }

    @Test func resumeKeepsSavedOptionsAndRejectsConflictingFlags() throws {
        var saved = TrainingOptions()
        saved.batchSize = 24; saved.seed = 5; saved.trainSubset = 96; saved.maxSteps = 3
        var given = TrainingOptions()
        given.batchSize = 24; given.maxSteps = 10
        // Only maxSteps and an equal batch size given: the saved run continues, further.
        let resumed = try saved.resumed(with: given, explicit: ["batchSize", "maxSteps"], name: { $0 }, source: "s")
        var expected = saved
        expected.maxSteps = 10
        #expect(resumed == expected)
        // Nothing given: exactly the saved options.
        #expect(try saved.resumed(with: TrainingOptions(), explicit: [], name: { $0 }, source: "s") == saved)
        // Each conflicting flag is named, with both values.
        given.batchSize = 12; given.seed = 6; given.trainSubset = 48
        do {
            _ = try saved.resumed(with: given, explicit: ["batchSize", "seed", "trainSubset"], name: { "--" + $0 }, source: "s")
            Issue.record("expected a conflict")
        } catch let error as OptionError {
            #expect(error.option == "--batchSize 12 (saved: 24), --seed 6 (saved: 5), --trainSubset 48 (saved: 96)")
        }
        // A flag given for a field the saved run left unset conflicts too.
        given = TrainingOptions(); given.maxGradNorm = 1
        saved.maxGradNorm = nil
        #expect(throws: OptionError.self) {
            _ = try saved.resumed(with: given, explicit: ["maxGradNorm"], name: { $0 }, source: "s")
        }
    }

    /// pct_start x steps = 1: the warm-up is one step long; it used to give 0/0 = NaN.
    @Test func oneCycleWithAOneStepWarmUpIsFinite() {
        var s = OneCycleLR(maxLR: 1e-2, totalSteps: 4)
        s.pctStart = 0.25
        for step in 0..<4 {
            let (lr, beta1) = s.values(at: step)
            #expect(lr.isFinite && beta1.isFinite, "step \(step): lr \(lr), beta1 \(beta1)")
        }
        #expect(s.values(at: 0).lr == 1e-2)
    }
}
