import ArgumentParser
import Diffusion

/// --backend and --precision: what runs the convolutions of the model a command builds.
struct ConvolutionOptions: ParsableArguments {
    enum Backend: String, ExpressibleByArgument, CaseIterable { case swift, onednn }

    @Option(help: """
        Convolutions on: swift (our own kernels; the default on every machine) or onednn (Debian's libdnnl). \
        On an AVX2-only EPYC oneDNN fp32 measured 0.77-0.91x the Swift kernels (docs/kernels.md); \
        no AVX-512 machine was measured with this wrapper.
        """)
    var backend: Backend = .swift

    @Option(help: "oneDNN convolution precision (with --backend onednn): fp32 (default) or bf16 (bf16 inputs and weights, fp32 accumulation; needs AVX512-BF16, else fp32).")
    var precision: ConvolutionPrecision?

    func validate() throws {
        if backend == .swift, let precision {
            throw ValidationError("--precision \(precision.rawValue) needs --backend onednn (the Swift kernels are fp32 only)")
        }
    }

    /// The backend to put in the model's `ForwardContext`, telling stderr (when `report`) if
    /// the machine forced a change.
    func resolve(report: Bool = true) -> ConvolutionBackend {
        let requested: ConvolutionBackend = backend == .onednn ? .oneDNN(precision ?? .fp32) : .swift
        let (chosen, note) = ConvolutionBackend.resolve(requested)
        if report, let note { StandardError.write("note: \(note)\n") }
        return chosen
    }
}

extension ConvolutionPrecision: ExpressibleByArgument {}
