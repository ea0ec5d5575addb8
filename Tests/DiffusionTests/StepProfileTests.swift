import Testing
@testable import Diffusion

/// `bench model --profile`'s accounting: the labels and "other" add up to each pass's wall
/// and CPU time, so no label is counted twice (a nested `timed` would make the labels exceed
/// the pass and leave "other" clamped at zero).
@Suite struct StepProfileTests {
    @Test func labelsAndOtherAddUpToThePass() throws {
        let model = try UNet2DModel(config: .tiny)
        model.initializeParameters(seed: 3)
        let r = try ModelBenchmark.run(model: model, forwardBatch: 3, trainBatch: 2, iterations: 1, profile: true)
        for (rows, wall, cpu) in [(r.forwardProfile, r.forwardSeconds, r.forwardCPUSeconds),
                                  (r.trainProfile, r.trainSeconds, r.trainCPUSeconds)] {
            let labels = rows.map(\.label)
            #expect(labels.last == "other" && Set(labels).count == labels.count, "\(labels)")
            #expect(rows.allSatisfy { $0.seconds >= 0 && $0.cpuSeconds >= 0 })
            let sum = rows.reduce(0) { $0 + $1.seconds }, cpuSum = rows.reduce(0) { $0 + $1.cpuSeconds }
            #expect(abs(sum - wall[0]) <= 1e-9 * max(1, wall[0]), "labels \(sum) s, pass \(wall[0]) s")
            #expect(abs(cpuSum - cpu[0]) <= 1e-9 * max(1, cpu[0]), "labels \(cpuSum) CPU s, pass \(cpu[0]) CPU s")
        }
        let train = Set(r.trainProfile.map(\.label))
        for label in ["conv 3x3 forward", "conv 3x3 backward", "attention backward", "group norm backward", "Adam"] {
            #expect(train.contains(label), "\(label) missing from \(train)")
        }
    }
}
