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
        let arguments = attachingNegativeNumbers(Array(CommandLine.arguments.dropFirst()))
        // Before anything that takes time: a SIGTERM to mpirun can reach a rank while it starts.
        if let command = arguments.first, commandsStoppingCleanly.contains(command) { installStopHandlers() }
        ProcessTuning.apply()
        refuseUnknownKernelChoice()
        main(arguments)
    }
}
