import ArgumentParser

@main
struct Launcher: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launcher",
        abstract: "Train and sample a Fashion-MNIST diffusion model (diffusers UNet2DModel) over MPI ranks.",
        subcommands: [
            InfoCommand.self,
            DataPreviewCommand.self,
            TrainCommand.self,
            SampleCommand.self,
            PredictCommand.self,
            CompareSamplersCommand.self,
            GuidanceSweepCommand.self,
            CompareRunsCommand.self,
            TrainClassifierCommand.self,
            FIDCommand.self,
            Bench.self,
        ])

    static func main() {
        ProcessTuning.apply()
        refuseUnknownKernelChoice()
        main(attachingNegativeNumbers(Array(CommandLine.arguments.dropFirst())))
    }
}
