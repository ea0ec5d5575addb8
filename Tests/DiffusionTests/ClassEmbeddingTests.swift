import Foundation
import Testing
@testable import Diffusion

/// The class embedding of a class-conditional UNet2DModel: its config keys both ways, its
/// parameters, the labels the model takes and refuses, and the table's forward and backward.
/// The numbers against diffusers: UNetParityTests (tiny-class, tiny-class-timestep).
@Suite(.kernelThreads(2)) struct ClassEmbeddingTests {
    static func conditional(_ type: ClassEmbedType? = nil, rows: Int? = 11) -> UNetConfig {
        var c = UNetConfig.tiny
        c.classEmbedType = type
        c.numClassEmbeds = rows
        return c
    }

    @Test func configKeysRoundTripAndMatchTheFixture() throws {
        for config in [Self.conditional(), Self.conditional(.timestep), Self.conditional(.timestep, rows: nil)] {
            let again = try UNetConfig(json: Array(config.toJSON().utf8), path: "config.json")
            #expect(again == config)
        }
        let fixture = try UNetConfig.load(contentsOf: PackageFixtures.path("tiny-class/config.json"))
        #expect(fixture == Self.conditional())
        #expect(fixture.guidanceClasses == 10)
        let timestep = try UNetConfig.load(contentsOf: PackageFixtures.path("tiny-class-timestep/config.json"))
        #expect(timestep == Self.conditional(.timestep))
        #expect(UNetConfig.tiny.guidanceClasses == nil)
    }

    @Test func identityAndProjectionsAreRefusedByName() throws {
        for (key, value) in [("class_embed_type", "\"identity\""), ("class_embed_type", "\"projection\""),
                             ("num_class_embeds", "0"), ("num_class_embeds", "2.5")] {
            var text = Self.conditional().toJSON()
            let line = text.split(separator: "\n").first { $0.contains("\"\(key)\"") }!
            text = text.replacingOccurrences(of: String(line), with: "  \"\(key)\": \(value),")
            let error = #expect(throws: ConfigError.self) { try UNetConfig(json: Array(text.utf8), path: "/m/config.json") }
            #expect(error?.key == key)
            #expect(error?.description.contains("/m/config.json") == true)
            if value == "\"identity\"" { #expect(error?.description.contains("not class labels") == true, "\(String(describing: error))") }
        }
    }

    @Test(arguments: [ClassEmbedType?.none, .timestep])
    func parametersFollowDiffusersOrderAndCount(type: ClassEmbedType?) throws {
        let config = Self.conditional(type)
        let model = try UNet2DModel(config: config)
        // The store is in forward order, the specs in state_dict order: same names and shapes.
        let specs = Dictionary(uniqueKeysWithValues: config.parameterSpecs.map { ($0.name, $0.shape) })
        #expect(Dictionary(uniqueKeysWithValues: model.store.entries.map { ($0.name, $0.shape) }) == specs)
        #expect(config.parameterCount == model.store.count)
        #expect(config.checkedParameterCount.value == model.store.count)
        let fixture = PackageFixtures.path(type == nil ? "tiny-class" : "tiny-class-timestep")
        let weights = try Safetensors(contentsOf: fixture + "/diffusion_pytorch_model.safetensors")
        #expect(Set(weights.names) == Set(model.store.entries.map(\.name)))
        // The index after time_embedding, as diffusers registers it.
        let names = config.parameterSpecs.map(\.name)
        let first = try #require(names.firstIndex { $0.hasPrefix("class_embedding.") })
        #expect(names[first - 1] == "time_embedding.linear_2.bias")
    }

    /// Adding a class table leaves every other parameter of a fresh model as the unconditional one's.
    @Test func initialisationOfTheRestIsUnchanged() throws {
        let plain = try UNet2DModel(config: .tiny), conditional = try UNet2DModel(config: Self.conditional())
        plain.initializeParameters(seed: 4); conditional.initializeParameters(seed: 4)
        for e in plain.store.entries {
            let other = try #require(conditional.store.entry(named: e.name))
            #expect(plain.store.exportTensor(e).array == conditional.store.exportTensor(other).array, "\(e.name)")
        }
        let table = try #require(conditional.store.entry(named: "class_embedding.weight"))
        let values = conditional.store.exportTensor(table).array
        let mean = values.reduce(0, +) / Float(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)
        #expect(abs(mean) < 0.15 && abs(variance - 1) < 0.2, "nn.Embedding's N(0, 1): mean \(mean), variance \(variance)")
    }

    @Test func labelsAreRequiredCheckedAndRefused() throws {
        let x = Tensor(shape: [2, 16, 16, 1])
        let conditional = try UNet2DModel(config: Self.conditional())
        #expect(throws: ModelInputError.classLabelsMissing) { try conditional.forward(x, timesteps: [1, 2]) }
        #expect(throws: ModelInputError.classLabels(count: 1, batch: 2)) {
            try conditional.forward(x, timesteps: [1, 2], classLabels: [3])
        }
        let outOfRange = #expect(throws: ModelInputError.self) { try conditional.forward(x, timesteps: [1, 2], classLabels: [3, 11]) }
        #expect(outOfRange?.description == "class label 11 outside 0...10 (num_class_embeds is 11)")
        let plain = try UNet2DModel(config: .tiny)
        #expect(throws: ModelInputError.classLabelsUnexpected) { try plain.forward(x, timesteps: [1, 2], classLabels: [0, 1]) }
    }

    /// The table's backward: dW[label] gets the sum of d(temb) over the images of that label;
    /// other rows stay zero. The model's gradient against a finite difference of its loss.
    @Test func tableGradientMatchesFiniteDifferences() throws {
        let model = try UNet2DModel(config: Self.conditional())
        model.initializeParameters(seed: 9)
        var rng = RandomStream(seed: 2)
        let x = Tensor(shape: [3, 16, 16, 1]); rng.fillNormal(x.data, count: x.count)
        let labels = [4, 10, 4], t: [Float] = [10, 500, 900]
        func loss() throws -> Double {
            let out = try model.forward(x, timesteps: t, classLabels: labels)
            return out.array.reduce(0.0) { $0 + Double($1) * Double($1) } / 2
        }
        model.store.zeroGrads()
        let out = try model.forward(x, timesteps: t, classLabels: labels, recordForBackward: true)
        model.backward(out)  // d(sum(out^2)/2)/d(out) = out
        let table = try #require(model.store.entry(named: "class_embedding.weight"))
        let width = table.shape[1]
        let grads = model.store.exportTensor(table, from: model.store.grads).array
        for row in 0..<11 where ![4, 10].contains(row) {
            #expect(grads[(row * width)..<((row + 1) * width)].allSatisfy { $0 == 0 }, "row \(row)")
        }
        for (row, column) in [(4, 0), (4, 17), (10, 5), (10, 31)] {
            let i = table.offset + row * width + column
            let saved = model.store.values[i], h: Float = 1e-2
            model.store.values[i] = saved + h; let up = try loss()
            model.store.values[i] = saved - h; let down = try loss()
            model.store.values[i] = saved
            let numeric = (up - down) / Double(2 * h), analytic = Double(grads[row * width + column])
            #expect(abs(numeric - analytic) <= 2e-2 * max(abs(numeric), 1e-2), "row \(row) column \(column): \(numeric) vs \(analytic)")
        }
    }
}

/// `launcher predict`'s path on a class-conditional model: class_labels read from the input file.
@Suite(.kernelThreads(2)) struct ClassConditionalPredictionTests {
    @Test func predictReadsClassLabels() throws {
        let model = try DiffusersFolder.load(from: PackageFixtures.path("tiny-class"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("predict-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Prediction.run(model: model, inputPath: PackageFixtures.path("tiny-class/io.safetensors"), outputPath: dir + "/out.safetensors")
        let output = try Safetensors(contentsOf: dir + "/out.safetensors").tensor(named: "output").array
        let expected = try Safetensors(contentsOf: PackageFixtures.path("tiny-class/io.safetensors")).tensor(named: "output").array
        #expect(zip(output, expected).map { abs($0 - $1) }.max() ?? 1 < 1e-4)
        // Without class_labels the conditional model is refused, naming the tensor.
        let io = try Safetensors(contentsOf: PackageFixtures.path("tiny-class/io.safetensors"))
        try Safetensors.write([(name: "sample", tensor: try io.tensor(named: "sample")), (name: "timestep", tensor: Tensor(shape: [3], values: try io.int64Values(named: "timestep").map { Float($0) }))],
                              to: dir + "/in.safetensors")
        let error = #expect(throws: FileError.self) {
            try Prediction.run(model: model, inputPath: dir + "/in.safetensors", outputPath: dir + "/out2.safetensors")
        }
        #expect(error?.description.contains("class_labels") == true, "\(String(describing: error))")
    }
}
