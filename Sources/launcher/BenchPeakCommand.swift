import ArgumentParser
import Diffusion
import Foundation

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

    func validate() throws {
        try OptionCheck.number(seconds, "--seconds", 0.01, 60)
    }

    func run() throws {
        let n = threads.configureSingleProcess()
        print("arithmetic peak, \(n) threads:")
        for loop in ArithmeticPeak.Loop.allCases {
            let name = loop.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)
            if let g = ArithmeticPeak.measure(loop, threads: n, seconds: seconds) {
                print("  \(name)" + String(format: " %7.1f GFLOPS (%.1f a thread)", g, g / Double(n)))
            } else {
                print("  \(name)  not on this CPU")
            }
        }
    }
}
