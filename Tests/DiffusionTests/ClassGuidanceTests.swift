import Foundation
import Testing
@testable import Diffusion

/// `--class` and classifier-free guidance: class names, the label of each image, the guided
/// noise prediction against separate model calls, and sampling over ranks.
@Suite(.kernelThreads(2)) struct ClassGuidanceTests {
    static func fixtureModel() throws -> UNet2DModel { try DiffusersFolder.load(from: PackageFixtures.path("tiny-class")) }

    @Test func classesByNameIndexOrAll() throws {
        let cases: [(String, ClassChoice)] = [("Sneaker", .one(7)), ("sneaker", .one(7)), ("Ankle boot", .one(9)),
                                              ("ankle-boot", .one(9)), ("T-shirt/top", .one(0)), ("tshirt", .one(0)),
                                              ("7", .one(7)), ("0", .one(0)), ("all", .all), ("ALL", .all)]
        for (text, expected) in cases { #expect(try ClassChoice.parse(text) == expected, "\(text)") }
        for bad in ["boot", "10", "-1", "sneakers", ""] {
            let error = #expect(throws: SamplingError.self) { try ClassChoice.parse(bad) }
            #expect(error?.description.contains("'Sneaker'") == true, "\(String(describing: error))")
        }
    }

    @Test func allGivesEqualRunsOfEveryClass() throws {
        let labels = try ClassChoice.all.labels(count: 100, classes: 10)
        #expect(labels == (0..<100).map { $0 / 10 })
        #expect(try ClassChoice.all.labels(count: 20, classes: 10) == (0..<20).map { $0 / 2 })
        #expect(try ClassChoice.one(7).labels(count: 3, classes: 10) == [7, 7, 7])
        #expect(throws: SamplingError.classAllCount(images: 25, classes: 10)) { try ClassChoice.all.labels(count: 25, classes: 10) }
    }

    /// eps = eps_u + w (eps_c - eps_u) from one call of 2B, against two calls of B.
    @Test(arguments: [0.0, 1.0, 3.0])
    func guidedPredictionIsTheFormula(scale: Double) throws {
        let model = try Self.fixtureModel()
        var rng = RandomStream(seed: 8)
        let x = Tensor(shape: [3, 16, 16, 1]); rng.fillNormal(x.data, count: x.count)
        let labels = [7, 0, 9], t = [600.0, 600, 600]
        let guidance = try ClassGuidance(labels: labels, scale: scale, nullClass: 10)
        let eps = try guidance.denoiser(model, localLabels: labels)(x, t)
        let tf = t.map { Float($0) }
        let conditional = try model.forward(x, timesteps: tf, classLabels: labels).array
        let unconditional = try model.forward(x, timesteps: tf, classLabels: [10, 10, 10]).array
        let w = Float(scale)
        var worst: Float = 0
        for i in 0..<x.count {
            worst = max(worst, abs(eps[i] - (unconditional[i] + w * (conditional[i] - unconditional[i]))))
        }
        #expect(worst < 1e-4, "max deviation \(worst)")
        #expect(guidance.passes == (scale == 0 || scale == 1 ? 1 : 2))
        // Guidance changes the prediction: the classes matter.
        if scale == 3 { #expect(zip(conditional, unconditional).contains { abs($0 - $1) > 1e-3 }) }
    }

    @Test func conditionalModelsNeedClassesAndUnconditionalOnesRefuseThem() throws {
        let plain = try UNet2DModel(config: .tiny)
        let guidance = try ClassGuidance(labels: [1, 2], scale: 2, nullClass: 10)
        let refused = #expect(throws: SamplingError.classNotSupported) {
            try ShardedSampling.generate(model: plain, spec: .ddim(steps: 2, eta: 0, spacing: .uniform), schedule: .recipe,
                                         count: 2, seed: 0, group: SingleProcess(), guidance: guidance)
        }
        #expect(refused?.description.contains("--conditional") == true)
        let conditional = try Self.fixtureModel()
        let required = #expect(throws: SamplingError.classRequired(classes: 10)) {
            try ShardedSampling.generate(model: conditional, spec: .ddim(steps: 2, eta: 0, spacing: .uniform), schedule: .recipe,
                                         count: 2, seed: 0, group: SingleProcess())
        }
        #expect(required?.description.contains("--class") == true)
        #expect(throws: OptionError.self) { try ClassGuidance(labels: [1], scale: .nan, nullClass: 10) }
        #expect(throws: OptionError.self) { try ClassGuidance(labels: [1], scale: -1, nullClass: 10) }
        #expect(throws: SamplingError.self) { try ClassGuidance(labels: [10], scale: 1, nullClass: 10) }
    }

    /// Image i's class and noise come from its global index: 1, 2 and 3 ranks give the same images.
    @Test func guidedImagesDoNotDependOnRankCount() throws {
        let n = 5
        let guidance = try ClassGuidance(labels: [7, 7, 0, 3, 9], scale: 2.5, nullClass: 10)
        var results: [[Float]] = []
        for size in 1...3 {
            let images = try ThreadGroup.run(size: size) { group in
                let model = try Self.fixtureModel()
                return try ShardedSampling.generate(model: model, spec: .ddim(steps: 3, eta: 1, spacing: .uniform),
                                                    schedule: .recipe, count: n, seed: 5, group: group,
                                                    guidance: guidance).images?.array
            }
            results.append(try #require(images[0]))
        }
        for r in 1..<3 {
            let diff = zip(results[0], results[r]).map { abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-4, "\(r + 1) ranks vs 1: \(diff)")
        }
        // The class matters: image 2 drawn as class 7 instead of 0 changes, the others do not.
        let other = try ClassGuidance(labels: [7, 7, 7, 3, 9], scale: 2.5, nullClass: 10)
        let changed = try ShardedSampling.generate(model: try Self.fixtureModel(), spec: .ddim(steps: 3, eta: 1, spacing: .uniform),
                                                   schedule: .recipe, count: n, seed: 5, group: SingleProcess(),
                                                   guidance: other).images!.array
        let per = 16 * 16
        #expect(changed[0..<(2 * per)] == results[0][0..<(2 * per)])
        #expect(changed[(2 * per)..<(3 * per)] != results[0][(2 * per)..<(3 * per)])
    }

    @Test func labelledGridHasAMarginWithText() throws {
        let images = Tensor(shape: [20, 8, 8, 1])
        for i in 0..<images.count { images[i] = -0.5 }  // black cells
        let grid = ImageGrid.make(images: images, columns: 2)
        let labelled = ImageGrid.labellingRows(grid, labels: (0..<10).map { FashionMNIST.classNames[$0] }, cellHeight: 8)
        let margin = labelled.width - grid.width
        #expect(margin == BitmapFont.textWidth("T-shirt/top") + 4)  // the longest name, and a gap each side
        #expect(labelled.height == grid.height)
        // Some dark pixels in the margin (the text), and the grid copied unchanged to its right.
        var dark = 0
        for y in 0..<labelled.height { for x in 0..<margin where labelled.pixels[y * labelled.width + x] == 0 { dark += 1 } }
        #expect(dark > 100)
        for y in 0..<grid.height {
            #expect(Array(labelled.pixels[(y * labelled.width + margin)..<((y + 1) * labelled.width)])
                    == Array(grid.pixels[(y * grid.width)..<((y + 1) * grid.width)]))
        }
    }
}
