import Foundation
import Testing
@testable import Diffusion

@Suite struct ClassifierConfigTests {
    @Test func jsonRoundTrip() throws {
        var c = ClassifierConfig()
        c.channels = [16, 32, 64, 96]; c.blocksPerStage = [1, 1, 2, 3]; c.normNumGroups = 16 / 2
        let text = c.toJSON()
        #expect(text.hasPrefix("{\n  \"_class_name\": \"FashionClassifier\",\n"))
        let back = try ClassifierConfig(json: Array(text.utf8), path: "mem")
        #expect(back == c)
    }

    @Test func badConfigsSayWhatIsWrong() {
        func error(_ json: String) -> String {
            do { _ = try ClassifierConfig(json: Array(json.utf8), path: "c.json"); return "" } catch { return "\(error)" }
        }
        #expect(error(#"{"channels": [32, 64], "blocks_per_stage": [1]}"#).contains("same length"))
        #expect(error(#"{"channels": [30], "blocks_per_stage": [1]}"#).contains("multiples of norm_num_groups"))
        #expect(error(#"{"width": 3}"#).contains("unknown key \"width\""))
        #expect(error(#"{"channels": "wide"}"#).contains("list of integers"))
        #expect(error(#"{"image_size": 30}"#).contains("expected a multiple of 2^2"))
    }

    @Test func featureWidthAndParameterNames() {
        let model = FashionClassifier(config: ClassifierConfig())
        #expect(model.featureDimension == 128)
        let names = model.store.entries.map(\.name)
        #expect(names.first == "blocks.0.conv.weight")
        #expect(names.contains("blocks.4.norm.bias"))
        #expect(names.suffix(2) == ["fc.weight", "fc.bias"])
        #expect(model.store.entry(named: "blocks.1.conv.weight")?.shape == [64, 32, 3, 3])
        var other = ClassifierConfig()
        other.inChannels = 3; other.channels = [8, 16]; other.blocksPerStage = [2, 1]; other.numClasses = 4
        for config in [ClassifierConfig(), other] {
            #expect(config.parameterCount == FashionClassifier(config: config).store.count)
        }
    }

    @Test func augmentationIsKeyedAndKeepsTheBackground() {
        let blank = Tensor(shape: [4, 6, 6, 1], values: [Float](repeating: -0.5, count: 144))
        Augmentation().apply(to: blank, keys: [0, 1, 2, 3], seed: 9)
        #expect(blank.array.allSatisfy { $0 == -0.5 })

        var rng = RandomStream(seed: 1)
        let images = Tensor(shape: [6, 6, 6, 1], values: (0..<216).map { _ in Float(rng.uniform()) - 0.5 })
        let all = images.copy(), firstHalf = images.gather([0, 1, 2]), secondHalf = images.gather([3, 4, 5])
        let keys: [UInt64] = [10, 11, 12, 13, 14, 15]
        Augmentation().apply(to: all, keys: keys, seed: 2)
        Augmentation().apply(to: firstHalf, keys: Array(keys[0..<3]), seed: 2)
        Augmentation().apply(to: secondHalf, keys: Array(keys[3..<6]), seed: 2)
        #expect(all.array == firstHalf.array + secondHalf.array, "an image's augmentation depends only on its key")
        #expect(all.array != images.array)
        let none = images.copy()
        Augmentation(flip: false, maxShift: 0).apply(to: none, keys: keys, seed: 2)
        #expect(none.array == images.array)
    }
}
