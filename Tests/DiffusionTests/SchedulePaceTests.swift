import Foundation
import Testing
@testable import Diffusion

/// A time budget's re-plans (`TimeBudget.replan`, `SchedulePace`): the learning rate stays
/// continuous, the schedule still ends on the run's last step, and the plan is stored.
struct SchedulePaceTests {
    @Test func withoutReplanThePaceIsTheIdentity() {
        let pace = SchedulePace(scheduleSteps: 100)
        for step in [0, 1, 37, 99, 100] { #expect(pace.position(at: step, totalSteps: 100) == Double(step)) }
    }

    /// Longer: the schedule's rest is walked more slowly; shorter: faster. Both continuous
    /// at the knot and both end at the schedule's end on the run's last step.
    @Test(arguments: [150, 60, 22])
    func replanKeepsThePositionAndEndsTheSchedule(newTotal: Int) throws {
        let pace = SchedulePace(scheduleSteps: 100).replanned(at: 20, from: 100)
        #expect(pace.position(at: 20, totalSteps: newTotal) == 20)
        #expect(pace.position(at: 10, totalSteps: newTotal) == 10)
        #expect(abs(pace.position(at: newTotal - 1, totalSteps: newTotal) - 99) < 1e-12)
        let p21 = pace.position(at: 21, totalSteps: newTotal)
        #expect(abs(p21 - (20 + 79 / Double(newTotal - 21))) < 1e-12, "\(p21)")
        try pace.validate(totalSteps: newTotal, name: "budgetPace")

        // A second re-plan keeps the position the first pace had reached.
        let second = pace.replanned(at: 21, from: newTotal)
        #expect(second.knots.count == 3)
        #expect(second.position(at: 21, totalSteps: 90) == p21)
        #expect(abs(second.position(at: 89, totalSteps: 90) - 99) < 1e-12)
    }

    /// A re-plan to the step already reached ends the run there; the pace then stands at the
    /// schedule's last step.
    @Test func replanToTheCurrentStepEndsTheSchedule() throws {
        let pace = SchedulePace(scheduleSteps: 100).replanned(at: 20, from: 100)
        #expect(pace.position(at: 20, totalSteps: 20) == 99)
        try pace.validate(totalSteps: 20, name: "budgetPace")
    }

    /// The plan travels with the run's options (checkpoint and rank agreement), and a run
    /// that never re-planned has no such field, so its options keep their hash.
    @Test func paceIsStoredWithTheOptions() throws {
        var options = TrainingOptions()
        options.timeBudget = 60
        options.budgetSteps = 70
        #expect(!options.canonicalJSON.contains("budgetPace"))
        options.budgetPace = SchedulePace(scheduleSteps: 40).replanned(at: 10, from: 40)
        let back = try TrainingOptions(json: options.canonicalJSON)
        #expect(back == options)
        try back.validate()
        #expect(back.schedulePosition(step: 10, datasetSize: 8) == 10)
        #expect(back.schedulePosition(step: 69, datasetSize: 8) == 39)
    }

    @Test func knotsOutOfOrderAreRefused() {
        var pace = SchedulePace(scheduleSteps: 100).replanned(at: 20, from: 100).replanned(at: 30, from: 100)
        pace.knots.swapAt(1, 2)
        #expect { try pace.validate(totalSteps: 100, name: "budgetPace") } throws: { "\($0)".contains("out of order") }
        var options = TrainingOptions()
        options.timeBudget = 60
        options.budgetPace = SchedulePace(scheduleSteps: 10)
        #expect { try options.validate() } throws: { "\($0)".contains("budgetSteps") }
    }

    /// A re-planned trainer's learning rate follows the schedule laid out for the first plan,
    /// without a jump, and reaches its last value on the new last step.
    @Test func replannedTrainerWalksTheFirstSchedule() throws {
        let trainer = try TinyTraining.trainer { $0.timeBudget = 3600; $0.budgetSteps = 40 }
        let first = trainer.lrSchedule
        var rates: [Double] = []
        for _ in 0..<10 { rates.append(try trainer.trainStep().lr) }
        try trainer.replanBudgetSteps(70)
        #expect(trainer.totalSteps == 70 && trainer.lrSchedule == first)
        while !trainer.isFinished { rates.append(try trainer.trainStep().lr) }
        #expect(rates.count == 70)
        #expect(rates[9] == first.values(at: 9).lr)
        // Continuous: the step after the re-plan lies between the schedule's steps 10 and 11.
        let (a, b) = (first.values(at: 10).lr, first.values(at: 11).lr)
        #expect(min(a, b) <= rates[10] && rates[10] <= max(a, b))
        #expect(abs(rates[69] - first.values(at: 39).lr) <= 1e-12 * first.values(at: 11).lr, "\(rates[69]) vs \(first.values(at: 39).lr)")
        #expect(throws: TrainingError.self) { try trainer.replanBudgetSteps(69) }
    }

    /// The re-plan points follow from the stored plan, and a re-plan with time left fits the
    /// steps to it at the measured rate.
    @Test func replanFitsTheStepsToTheTimeLeft() throws {
        let trainer = try TinyTraining.trainer { $0.timeBudget = 100; $0.budgetSteps = 50 }
        #expect(TimeBudget.nextReplanStep(trainer.options) == 5)
        for _ in 0..<5 { _ = try trainer.trainStep() }
        // 5 steps in 10 s since the start: 2 s a step, 80 s left of 100 -> 40 more steps.
        let steps = try TimeBudget.replan(trainer, budgetSeconds: 100, trainSeconds: 20,
                                          since: .init(step: 0, trainSeconds: 10))
        #expect(steps == 45 && trainer.totalSteps == 45)
        #expect(TimeBudget.nextReplanStep(trainer.options) == Int((0.3 * 45.0).rounded()))
        // Over budget already: the run ends at the step it has reached.
        #expect(try TimeBudget.replan(trainer, budgetSeconds: 100, trainSeconds: 120, since: .init(step: 0, trainSeconds: 0)) == 5)
        #expect(trainer.isFinished)
    }
}
