import ArgumentParser
import Diffusion
import Foundation

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run the denoiser once on tensors from a file: the parity check against diffusers.",
        discussion: """
        --input holds `sample` [B,C,H,W] (float32) and `timestep` [B] (int64 or float); --output \
        gets `output` [B,C,H,W], what diffusers' UNet2DModel.from_pretrained(DIR)(sample, timestep).sample \
        returns for the same folder.
        """)

    @Option(help: "A diffusers UNet2DModel folder.") var model: String
    @Option(help: "safetensors file with `sample` and `timestep`.") var input: String
    @Option(help: "safetensors file to write `output` to.") var output: String
    @OptionGroup var threads: ThreadsOption
    @OptionGroup var convolution: ConvolutionOptions

    func run() throws {
        _ = threads.configureSingleProcess()
        do {
            let unet = try DiffusersFolder.load(from: model)
            unet.context.convolutions = try convolution.resolve(for: unet.config, .sampling)
            try Prediction.run(model: unet, inputPath: input, outputPath: output)
            print("wrote \(output)")
        } catch {
            StandardError.write("error: \(error)\n")
            throw ExitCode.failure
        }
    }
}
