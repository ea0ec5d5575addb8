import ArgumentParser
import Diffusion
import Foundation

/// --backend and --precision: what runs the convolutions of this process.
struct ConvolutionChoice: ParsableArguments {
    enum Backend: String, ExpressibleByArgument, CaseIterable { case swift, onednn }

    @Option(help: "Convolutions on: onednn (default where it starts) or swift (our own kernels).")
    var backend: Backend?

    @Option(help: "oneDNN convolution precision: fp32 (default) or bf16 (bf16 inputs and weights, fp32 accumulation; needs AVX512-BF16, else fp32).")
    var precision: ConvolutionPrecision?

    func validate() throws {
        if backend == .swift, precision == .bf16 {
            throw ValidationError("--precision bf16 needs --backend onednn (the Swift kernels are fp32 only)")
        }
    }

    /// Sets `ConvolutionBackend.current`, telling stderr (when `report`) if the machine forced a change.
    func apply(report: Bool = true) {
        let requested: ConvolutionBackend
        switch backend {
        case .swift: requested = .swift
        case .onednn: requested = .oneDNN(precision ?? .fp32)
        case nil: requested = precision.map { .oneDNN($0) } ?? ConvolutionBackend.preferred
        }
        let (chosen, note) = ConvolutionBackend.resolve(requested)
        if report, let note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        ConvolutionBackend.current = chosen
    }
}

extension ConvolutionPrecision: ExpressibleByArgument {}
