import ArgumentParser
import Diffusion

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Per-kernel speed at the U-Net's shapes (convolutions, attention, linears, group norm), for tuning.",
        discussion: """
        With one thread (the default) times are the thread's CPU time, so other jobs on a shared \
        machine do not inflate them; with more, wall time. On a CPU with AVX-512, attention, \
        group norm and linears are timed twice, our Swift kernels (OpenBLAS for the linears) and \
        the AVX-512 C ones the model uses there.

        Example: launcher bench kernels --only convolutions linears --repeats 3
        """)

    // Not the shared ThreadsOption: its default is every core, and one thread is what gives CPU times.
    @Option(help: "Kernel threads, in 1...4096 (1: thread CPU time; more: wall time).") var threads = 1
    @Option(help: "Timings per figure, the best is kept (after one warm-up), in 1...1000.") var repeats = 5
    @Option(parsing: .upToNextOption, help: "Only these benchmarks, in this order (default: all).") var only: [KernelBenchmarks.Name] = []

    func validate() throws {
        try OptionCheck.integer(threads, "--threads", 1...4096)
        try OptionCheck.integer(repeats, "--repeats", 1...1000)
    }

    func run() {
        KernelBenchmarks(threads: threads, repeats: repeats, log: { print($0) }).run(only)
    }
}
