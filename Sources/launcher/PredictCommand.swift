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
    @Option(help: "Kernel threads (default: all cores).") var threads: Int?
    @OptionGroup var convolution: ConvolutionChoice

    func run() throws {
        BLAS.configure(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        convolution.apply()
        do {
            let unet = try DiffusersFolder.load(from: model)
            try Prediction.run(model: unet, inputPath: input, outputPath: output)
            print("wrote \(output)")
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
