import Foundation

/// How a time-budgeted run walks its learning-rate schedule when its length is re-planned.
///
/// The schedule is laid out once, for `scheduleSteps` (the first plan's count). A re-plan at
/// step k changes the run's length to T' but not the schedule: the part of the schedule not
/// yet walked is spread over the T' - k steps left. The learning rate is then continuous at
/// every re-plan, only its pace changes, and the schedule still ends on the run's last step.
///
/// Piecewise linear from the run's step to a position in the schedule: through the knots
/// (step, position), the first one (0, 0), and on from the last one to the run's last step at
/// the schedule's last step, (totalSteps - 1, scheduleSteps - 1). With no re-plan the map is
/// the identity, exactly (a ratio of 1.0).
public struct SchedulePace: Codable, Equatable, Sendable {
    public struct Knot: Codable, Equatable, Sendable {
        public var step: Int
        public var position: Double
    }

    /// The steps the schedule was laid out for.
    public var scheduleSteps: Int
    /// Where the re-plans took place, in order; the first is (0, 0).
    public var knots: [Knot]

    public init(scheduleSteps: Int) {
        self.scheduleSteps = scheduleSteps
        knots = [Knot(step: 0, position: 0)]
    }

    /// The schedule's position at `step` of a run now planned for `totalSteps`.
    public func position(at step: Int, totalSteps: Int) -> Double {
        // The segment holding `step`: the last knot at or before it.
        let i = knots.lastIndex { $0.step <= step } ?? 0
        let from = knots[i]
        let (toStep, toPosition) = i + 1 < knots.count ? (knots[i + 1].step, knots[i + 1].position)
                                                       : (totalSteps - 1, Double(scheduleSteps - 1))
        guard toStep > from.step else { return toPosition }
        return from.position + Double(step - from.step) * ((toPosition - from.position) / Double(toStep - from.step))
    }

    /// The pace after a re-plan at `step` (at or after the last knot) of a run that had
    /// `oldTotal` steps: a knot where the schedule stood then. The new step count is the
    /// caller's (`budgetSteps`); the last segment runs to it.
    public func replanned(at step: Int, from oldTotal: Int) -> SchedulePace {
        var pace = self
        let here = Knot(step: step, position: position(at: step, totalSteps: oldTotal))
        if let last = pace.knots.last, last.step == step { pace.knots[pace.knots.count - 1] = here } else { pace.knots.append(here) }
        return pace
    }

    /// Knots that start at (0, 0), rise in both step and position, and end before the run
    /// and the schedule do: anything else was not written by `replanned`.
    public func validate(totalSteps: Int, name: String) throws {
        guard scheduleSteps >= 1, knots.first == Knot(step: 0, position: 0) else {
            throw OptionError(name, "must start at step 0, position 0 of a schedule of at least 1 step")
        }
        for (a, b) in zip(knots, knots.dropFirst()) where !(a.step < b.step && a.position <= b.position) {
            throw OptionError(name, "has knots out of order: step \(a.step) at \(a.position), then step \(b.step) at \(b.position)")
        }
        guard let last = knots.last, last.step <= totalSteps,
              last.position.isFinite, last.position < Double(scheduleSteps) else {
            throw OptionError(name, "has a knot past the run's \(totalSteps) steps or the schedule's \(scheduleSteps)")
        }
    }
}
