import ArgumentParser
import Diffusion

struct BenchPeak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak",
        abstract: "This machine's arithmetic peak: GFLOPS of register-only fp32 FMA and bf16 dot-product loops on every thread.",
        discussion: """
        The ceiling for `bench model` and `bench conv`: no memory traffic, so no real kernel \
        reaches it. A loop the CPU lacks (AVX-512, AVX512-BF16) is reported as missing.
        """)

    @OptionGroup var threads: ThreadsOption
    @Option(help: "Seconds per timed run, in 0.01...60 (best of 3 counts).") var seconds = 0.25
    @Option(help: "Also write the figures as JSON to this file.") var json: String?

    func validate() throws {
        if let json { try FileBytes.checkWritable(json) }
        try OptionCheck.number(seconds, "--seconds", 0.01, 60)
    }

    func run() throws {
        let report = PeakReport.measure(threads: threads.configureSingleProcess(), seconds: seconds)
        print(report.summary)
        if let json { try writeJSON(report, to: json) }
    }
}
