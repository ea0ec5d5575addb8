import Foundation
import Testing
@testable import Diffusion

/// Class-conditional training: the options and their checks, the model config a conditional
/// run builds, the label dropout draws, the labels reaching the model, rank-count invariance
/// in process, and the training state. End to end under mpirun: TrainEndToEndTests.
@Suite(.kernelThreads(1)) struct ConditionalTrainingTests {
    static func options(dropout: Double = 0.1) -> TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = 6
        o.epochs = 100
        o.conditional = true
        o.classCount = 10
        o.labelDropout = dropout
        return o
    }

    /// 12 images of 8x8 with labels 0...9, 0, 1 on the TinyTraining-like model with a table of 11 rows.
    static func trainer(options: TrainingOptions = options(), group: Collectives = SingleProcess()) throws -> Trainer {
        var config = UNetConfig.tiny
        config.sampleSize = 8
        config = try options.modelConfig(for: config, source: "test")
        let model = try UNet2DModel(config: config)
        model.initializeParameters(seed: 1)
        var rng = RandomStream(seed: 2)
        let images = Tensor(shape: [12, 8, 8, 1])
        for i in 0..<images.count { images[i] = Float(rng.uniform() - 0.5) }
        return try Trainer(model: model, images: images, labels: (0..<12).map { $0 % 10 }, options: options, group: group)
    }

    @Test func optionsAreCheckedAndUnconditionalRunsKeepTheirJSON() throws {
        try Self.options().validate()
        #expect(TrainingOptions().canonicalJSON.contains("conditional") == false)
        #expect(Self.options().canonicalJSON.contains("\"labelDropout\":0.1"))
        var o = Self.options(dropout: 1)
        #expect(throws: OptionError.self) { try o.validate() }
        o = Self.options(dropout: -0.1)
        #expect(throws: OptionError.self) { try o.validate() }
        o = Self.options(dropout: .nan)
        #expect(throws: OptionError.self) { try o.validate() }
        o = TrainingOptions()
        o.labelDropout = 0.2
        let error = #expect(throws: OptionError.self) { try o.validate(name: { "--" + $0 }) }
        #expect(error?.description.contains("--conditional") == true)
        o = Self.options(); o.classCount = nil
        #expect(throws: OptionError.self) { try o.validate() }
        o = TrainingOptions(); o.classCount = 10
        #expect(throws: OptionError.self) { try o.validate() }
    }

    @Test func aConditionalRunAddsTheClassTable() throws {
        let config = try Self.options().modelConfig(for: .small, source: "preset small")
        #expect(config.numClassEmbeds == 11 && config.classEmbedType == nil)
        #expect(try TrainingOptions().modelConfig(for: .small, source: "preset small") == .small)
        // A config.json that brings its own class embedding must be the one the run needs.
        var eleven = UNetConfig.small; eleven.numClassEmbeds = 11
        #expect(try Self.options().modelConfig(for: eleven, source: "c.json") == eleven)
        var twelve = UNetConfig.small; twelve.numClassEmbeds = 12
        let wrong = #expect(throws: ConfigError.self) { try Self.options().modelConfig(for: twelve, source: "c.json") }
        #expect(wrong?.description.contains("num_class_embeds 11") == true, "\(String(describing: wrong))")
        var timestep = UNetConfig.small; timestep.classEmbedType = .timestep
        #expect(throws: ConfigError.self) { try Self.options().modelConfig(for: timestep, source: "c.json") }
        let unconditional = #expect(throws: ConfigError.self) { try TrainingOptions().modelConfig(for: eleven, source: "c.json") }
        #expect(unconditional?.description.contains("--conditional") == true)
    }

    @Test func dropoutDrawsAreKeyedAndNearTheirRate() {
        let draws = (0..<20_000).map {
            ConditionalTraining.trainingLabel(3, seed: 7, key: UInt64($0), dropout: 0.1, nullClass: 10)
        }
        #expect(Set(draws) == [3, 10])
        let rate = Double(draws.filter { $0 == 10 }.count) / Double(draws.count)
        #expect(abs(rate - 0.1) < 0.01, "null-class rate \(rate)")
        // The same (seed, key) draws the same; dropout 0 never drops.
        #expect(ConditionalTraining.trainingLabel(3, seed: 7, key: 5, dropout: 0.1, nullClass: 10) == draws[5])
        #expect((0..<1000).allSatisfy { ConditionalTraining.trainingLabel(3, seed: 7, key: UInt64($0), dropout: 0, nullClass: 10) == 3 })
    }

    /// The labels reach the model: a step moves exactly the rows of the classes it trained on
    /// (with dropout 0.5 over 6 images, some rows are the null class's).
    @Test func aStepTrainsTheRowsOfItsClasses() throws {
        let trainer = try Self.trainer(options: Self.options(dropout: 0.5))
        let table = try #require(trainer.model.store.entry(named: "class_embedding.weight"))
        let before = trainer.model.store.exportTensor(table).array
        let indices = trainer.batchIndices(step: 0)
        _ = try trainer.trainStep()
        let after = trainer.model.store.exportTensor(table).array
        let width = table.shape[1]
        let expected = Set(indices.enumerated().map { j, index in
            ConditionalTraining.trainingLabel(index % 10, seed: 0, key: UInt64(j), dropout: 0.5, nullClass: 10)
        })
        let moved = Set((0..<11).filter { r in before[(r * width)..<((r + 1) * width)] != after[(r * width)..<((r + 1) * width)] })
        #expect(moved == expected)
        #expect(expected.contains(10), "dropout 0.5 over 6 images drew no null class: pick another seed")
    }

    @Test func sameModelAtOneTwoAndThreeRanks() throws {
        var results: [[Float]] = []
        for size in 1...3 {
            let parameters = try ThreadGroup.run(size: size) { group in
                let trainer = try Self.trainer(group: group)
                for _ in 0..<3 { _ = try trainer.trainStep() }
                return trainer.model.store.valueArray
            }
            results.append(parameters[0])
        }
        for r in 1..<3 {
            let diff = zip(results[0], results[r]).map { abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-5, "\(r + 1) ranks vs 1: \(diff)")
        }
    }

    @Test func labelsAreRequiredAndChecked() throws {
        var config = UNetConfig.tiny
        config.sampleSize = 8
        config.numClassEmbeds = 11
        let model = try UNet2DModel(config: config)
        let images = Tensor(shape: [4, 8, 8, 1])
        #expect(throws: TrainingError.self) { try Trainer(model: model, images: images, options: Self.options(), group: SingleProcess()) }
        #expect(throws: TrainingError.self) {
            try Trainer(model: model, images: images, labels: [0, 1, 2, 10], options: Self.options(), group: SingleProcess())
        }
        // An unconditional run refuses a model with a class table.
        #expect(throws: ConfigError.self) { try Trainer(model: model, images: images, options: TrainingOptions(), group: SingleProcess()) }
    }

    @Test func trainingStateKeepsTheConditioning() throws {
        let trainer = try Self.trainer()
        _ = try trainer.trainStep()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cond-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/training_state.safetensors"
        try TrainingCheckpoint.save(trainer, to: path)
        let state = try TrainingCheckpoint.load(from: path)
        #expect(state.options.conditional == true && state.options.classCount == 10 && state.options.labelDropout == 0.1)
        #expect(state.config.numClassEmbeds == 11)
        // Options and model that disagree: the file is named, and so is the key.
        let file = try Safetensors(contentsOf: path)
        var metadata = file.metadata
        metadata["options"] = TrainingOptions().canonicalJSON.replacingOccurrences(of: "\"batchSize\":128", with: "\"batchSize\":6")
        try Safetensors.write(try file.names.map { (name: $0, tensor: try file.tensor(named: $0)) }, metadata: metadata, to: path)
        let error = #expect(throws: ConfigError.self) { try TrainingCheckpoint.load(from: path) }
        #expect(error?.description.contains(path) == true && error?.key == "num_class_embeds", "\(String(describing: error))")
    }
}
