import ArgumentParser

/// `launcher bench`: the speed measurements, one subcommand (and one file) each.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: the model alone, its convolutions, the machine's peak, training, sampling, allreduce, "
            + "kernels; predict scaling.",
        discussion: "Measured figures and how to read them: docs/speed.md, docs/kernels.md, docs/scaling.md.",
        subcommands: [BenchModel.self, BenchConv.self, BenchPeak.self, BenchTrain.self, BenchSample.self, BenchAllreduce.self, BenchKernels.self,
                      BenchModelScaling.self, BenchScalingReport.self])
}
