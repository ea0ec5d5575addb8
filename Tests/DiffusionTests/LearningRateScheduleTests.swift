import Foundation
import Testing
@testable import Diffusion

/// diffusers' warm-up schedules (get_scheduler), checked at the points their formulas pin
/// down, and the recipe's one-cycle left as it was.
struct LearningRateScheduleTests {
    func schedule(_ name: LRSchedulerName, warmup: Int = 10, total: Int = 110) -> WarmupSchedule {
        WarmupSchedule(name: name, peakLR: 2e-3, warmupSteps: warmup, totalSteps: total, beta1: 0.95)
    }

    @Test func warmupRisesLinearlyToThePeak() {
        for name in [LRSchedulerName.cosine, .linear, .constantWithWarmup] {
            let s = schedule(name)
            #expect(s.lr(at: 0) == 0 && abs(s.lr(at: 5) - 1e-3) < 1e-15 && s.lr(at: 10) == 2e-3, "\(name)")
        }
        #expect(schedule(.constant).lr(at: 0) == 2e-3, "constant has no warm-up")
    }

    @Test func decayAfterTheWarmup() {
        let cosine = schedule(.cosine), linear = schedule(.linear)
        #expect(abs(cosine.lr(at: 60) - 1e-3) < 1e-15)            // p = 0.5: half the peak
        #expect(abs(cosine.lr(at: 35) - 2e-3 * 0.5 * (1 + cos(Double.pi / 4))) < 1e-15)
        #expect(abs(linear.lr(at: 85) - 0.5e-3) < 1e-15)          // p = 0.75
        #expect(cosine.lr(at: 110) < 1e-18 && linear.lr(at: 110) == 0)
        #expect(cosine.lr(at: 500) >= 0 && linear.lr(at: 500) == 0, "clamped at 0 past the plan")
        #expect(schedule(.constantWithWarmup).lr(at: 100) == 2e-3)
    }

    @Test func optionsPickTheSchedule() throws {
        var o = TrainingOptions()
        #expect(o.learningRateSchedule(datasetSize: 1280) == .oneCycle(OneCycleLR(maxLR: 1e-2, totalSteps: 250)))
        #expect(!o.canonicalJSON.contains("lrScheduler"), "the recipe's options keep their hash")
        o.lrScheduler = .cosine; o.epochs = 10
        guard case let .warmup(s) = o.learningRateSchedule(datasetSize: 1280) else { Issue.record("not a warm-up schedule"); return }
        #expect(s.warmupSteps == 5 && s.totalSteps == 100 && s.beta1 == 0.95 && s.peakLR == 1e-2)
        let atPeak = o.learningRateSchedule(datasetSize: 1280).values(at: 5)
        #expect(atPeak.lr == 1e-2 && atPeak.beta1 == 0.95)
        o.lrWarmupSteps = 20
        guard case let .warmup(w) = o.learningRateSchedule(datasetSize: 1280) else { return }
        #expect(w.warmupSteps == 20)
        o.lrScheduler = nil
        #expect(throws: OptionError.self) { try o.validate() }
    }
}
