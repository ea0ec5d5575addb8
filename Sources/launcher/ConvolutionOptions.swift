import ArgumentParser
import Diffusion

/// --backend and --precision: what runs the convolutions of the model a command builds.
struct ConvolutionOptions: ParsableArguments {
    enum Backend: String, ExpressibleByArgument, CaseIterable { case auto, swift, onednn }

    @Option(help: """
        Convolutions on: swift (our own kernels), onednn (Debian's libdnnl), or auto: oneDNN where the CPU \
        has AVX-512 or for bf16, else swift. oneDNN fp32 measured 1.2x our kernels on an AVX-512 EPYC and \
        0.8-0.9x on an AVX2-only one (docs/kernels.md).
        """)
    var backend: Backend = .auto

    @Option(help: """
        Convolution arithmetic: fp32 (default) or bf16 (as PyTorch's autocast: bf16 inputs and weights, \
        fp32 accumulation, everything else fp32; oneDNN on a CPU with AVX512-BF16, else fp32 with a note).
        """)
    var precision: ConvolutionPrecision?

    func validate() throws {
        if backend == .swift, let precision, precision != .fp32 {
            throw ValidationError("--precision \(precision.rawValue) needs --backend onednn or auto (the Swift kernels are fp32 only)")
        }
    }

    /// The backend to put in the model's `ForwardContext`, telling stderr (when `report`) if
    /// the machine forced a change.
    func resolve(report: Bool = true) -> ConvolutionBackend {
        let requested: ConvolutionBackend
        switch backend {
        case .auto: requested = .automatic(precision ?? .fp32)
        case .onednn: requested = .oneDNN(precision ?? .fp32)
        case .swift: requested = .swift
        }
        let (chosen, note) = ConvolutionBackend.resolve(requested)
        if report, let note { StandardError.write("note: \(note)\n") }
        return chosen
    }
}

extension ConvolutionPrecision: ExpressibleByArgument {}
