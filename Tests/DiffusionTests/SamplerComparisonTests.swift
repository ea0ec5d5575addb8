import Testing
@testable import Diffusion

@Suite struct SamplerComparisonTests {
    /// The rows of the original write-up keep their samplers, options and evaluation counts.
    @Test("each row has its own name and the sampler and evaluations of the original table")
    func rows() throws {
        let rows = SamplerComparison.standard
        #expect(Set(rows.map(\.id)).count == rows.count)
        #expect(rows.count == 9 + 3 * SamplerComparison.fewSteps.count)
        let planned = try rows.map { try Sampling.plannedModelEvaluations(spec: $0.spec, schedule: .recipe) }
        #expect(Array(planned.prefix(9)) == [366, 366, 366, 367, 145, 10, 20, 50, 100])
        #expect(Array(planned.dropFirst(9)) == Array(repeating: SamplerComparison.fewSteps, count: 3).flatMap { $0 })
        // Each row is what `sample` builds from its name and options.
        #expect(rows[4].spec == (try SamplerSpec.parse(.ddimRecipe, skip: .every10)))
        #expect(rows[5].spec == (try SamplerSpec.parse(.ddim, steps: 10)))
        #expect(rows[9].spec == (try SamplerSpec.parse(.dpmSolverPlusPlus, steps: 10)))
        #expect(rows[13].spec == (try SamplerSpec.parse(.sdeDPMSolverPlusPlus, steps: 10)))
        #expect(rows[17].spec == (try SamplerSpec.parse(.eulerAncestral, steps: 10)))
        #expect(rows.map(\.sampler).filter { SamplerComparison.families.contains($0) }.count == 4 + 12)
        #expect(rows.filter(\.headline).map(\.id) == ["ddpm-recipe"] + rows.dropFirst(9).map(\.id))
    }
}
