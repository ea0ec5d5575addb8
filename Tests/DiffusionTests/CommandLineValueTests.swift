import Testing
@testable import Diffusion

/// The closed and open sets the command line parses into, from the library's side.
@Suite struct CommandLineValueTests {
    @Test func sampleSourceReadsPathsAndRealSplits() throws {
        #expect(try SampleSource(parsing: "runs/s/samples.npy") == .file("runs/s/samples.npy"))
        #expect(try SampleSource(parsing: "real:train") == .real(.train))
        #expect(try SampleSource(parsing: "real:test").description == "real:test")
        #expect(try SampleSource(parsing: "stats.npz").isStatistics)
        #expect(try !SampleSource(parsing: "real:test").isStatistics)
    }

    @Test(arguments: ["real:validation", "real:", ""])
    func sampleSourceRefusalSaysWhatIsAllowed(text: String) {
        #expect(throws: SampleSource.ParseError(text: text)) { try SampleSource(parsing: text) }
        let message = SampleSource.ParseError(text: text).description
        #expect(message.contains("real:train, real:test") && message.contains(".npy") && message.contains("'\(text)'"))
    }

    @Test func kernelBenchmarkNamesAreTheCommandLineSpellings() {
        #expect(KernelBenchmarks.Name(rawValue: "exp-row") == .expRow)
        #expect(KernelBenchmarks.Name.allCases.map(\.rawValue) == ["convolutions", "attention", "exp-row", "attention-pieces",
                                                                   "parallel-overhead", "linears", "group-norm"])
    }

    @Test func weightsAreLabelledAsPrintouts() {
        #expect(WeightsChoice.ema.label == "EMA" && WeightsChoice.raw.label == "raw")
    }

    @Test func convolutionRequestsBecomeBackends() {
        #expect(PrecisionRequest.fp32.fixed == .fp32 && PrecisionRequest.bf16.fixed == .bf16 && PrecisionRequest.auto.fixed == nil)
        #expect(ConvolutionBackend.requested(.swift, .bf16, .winograd) == .swift)
        #expect(ConvolutionBackend.requested(.onednn, .bf16, .direct) == .oneDNN(.bf16, .direct))
        #expect(ConvolutionBackend.requested(.auto, .fp32, .winograd) == .automatic(.fp32, .winograd))
    }
}
