import ArgumentParser
import Diffusion

/// What `bench train` and `bench sample` share: the model, the threads, a JSON copy.
struct BenchRunOptions: ParsableArguments {
    @Option(help: "Model preset.") var preset: ModelPreset = .small
    @OptionGroup var threads: ThreadsOption
    @Option(help: "Also write the result as JSON to this file.") var json: String?
    @OptionGroup var convolution: ConvolutionOptions
}
