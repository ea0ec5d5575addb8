import ArgumentParser
import Diffusion

/// The samplers that take `option`, for flags' help.
func takers(_ option: SamplerOption) -> String {
    SamplerName.allCases.filter { $0.takes(option) }.map(\.rawValue).joined(separator: ", ")
}

/// The DPM-Solver options of `sample` (the other samplers refuse them).
struct SolverFlags: ParsableArguments {
    @Option(help: "DPM-Solver order (dpmsolver++, sde-dpmsolver++), 1, 2 or 3 (default 2).") var order: Int?
    @Flag(help: "DPM-Solver: Karras sigmas instead of a timestep spacing (diffusers' use_karras_sigmas).") var karras = false
    @Flag(help: "DPM-Solver: keep the full order on the last steps below 15 steps (diffusers' lower_order_final = False).")
    var noLowerOrderFinal = false

    var options: SolverOptions {
        SolverOptions(order: order, karras: karras ? true : nil, lowerOrderFinal: noLowerOrderFinal ? false : nil)
    }

    func validate() throws {
        if let order { try OptionCheck.integer(order, "--order", 1...3) }
    }
}

/// --no-clip, shared by the commands that sample.
struct ClipFlag: ParsableArguments {
    @Flag(help: "Keep the sampler's raw final images instead of clipping them to the data range [-0.5, 0.5] (the default, as diffusers' pipelines clamp).")
    var noClip = false

    var clip: Bool { !noClip }
}
