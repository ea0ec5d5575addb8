import ArgumentParser
import Diffusion
import Distributed

/// --backend, --precision and --conv-algorithm: what runs the convolutions of the model a
/// command builds. How fast each is on the machines measured: docs/kernels.md.
struct ConvolutionOptions: ParsableArguments {
    @Option(help: """
        Convolutions on: swift (our own kernels), onednn (Debian's libdnnl), or auto: oneDNN where the CPU \
        has AVX-512 or for bf16, else swift (the measurements behind it: docs/kernels.md, "oneDNN backend").
        """)
    var backend: ConvolutionLibrary = .auto

    @Option(help: """
        Arithmetic of the convolutions and linears: fp32 (default), bf16 (as PyTorch's autocast: bf16 inputs and weights, \
        fp32 accumulation, everything else fp32; oneDNN on a CPU with AVX512-BF16, else fp32 with a \
        note), or auto: bf16 where the model's own convolutions (forward and backward for training, forward \
        for sampling) time at least \(PrecisionChoice.requiredSpeedup)x faster in bf16 than in fp32 on this machine \
        (a few seconds at the first run, then cached per CPU, oneDNN ISA and model in \
        $XDG_CACHE_HOME or ~/.cache, under fashion-diffusion/precision; \
        every rank must agree), else fp32.
        """)
    var precision: PrecisionRequest?

    @Option(name: .customLong("conv-algorithm"), help: """
        oneDNN's algorithm for fp32 3x3 convolutions: winograd (default; Winograd F(4x4, 3x3) on the stride-1 \
        layers with at least 64 channels on one side, direct elsewhere: 4x fewer multiplications, errors up to \
        3e-6 of a tensor's largest entry) or direct (every tap multiplied, as the Swift kernels). bf16 runs \
        direct. docs/kernels.md has the measurements.
        """)
    var convAlgorithm: ConvolutionAlgorithm?

    func validate() throws {
        if backend == .swift, let precision, precision != .fp32 {
            throw ValidationError("--precision \(precision.rawValue) needs --backend onednn or auto (the Swift kernels are fp32 only)")
        }
        if backend == .swift, convAlgorithm == .winograd {
            throw ValidationError("--conv-algorithm winograd needs --backend onednn or auto (the Swift kernels are direct only)")
        }
    }

    /// The backend to put in the model's `ForwardContext`, telling stderr (when `report`) if
    /// the machine forced a change. `--precision auto` times `config`'s convolutions for
    /// `purpose` (or reads the timing from the cache); give `comm` on several ranks: bf16 is
    /// then chosen only if it is faster on every rank.
    func resolve(for config: UNetConfig, _ purpose: PrecisionChoice.Purpose, report: Bool = true,
                 agreeingOn comm: Communicator? = nil) throws -> ConvolutionBackend {
        let arithmetic = try (precision ?? .fp32).fixed
            ?? measuredPrecision(for: config, purpose, report: report, agreeingOn: comm)
        let requested = ConvolutionBackend.requested(backend, arithmetic, convAlgorithm ?? .winograd)
        let (chosen, note) = ConvolutionBackend.resolve(requested)
        if report, let note { StandardError.write("note: \(note)\n") }
        return chosen
    }

    /// `--precision auto`: bf16 where `config`'s convolutions measure faster in it, on every rank
    /// of `comm`.
    private func measuredPrecision(for config: UNetConfig, _ purpose: PrecisionChoice.Purpose, report: Bool,
                                   agreeingOn comm: Communicator?) throws -> ConvolutionPrecision {
        let (choice, source, notes) = PrecisionChoice.cachedOrMeasured(config: config, backend, convAlgorithm ?? .winograd)
        let here = choice.precision(for: purpose)
        var bf16Everywhere = here == .bf16
        if let comm { bf16Everywhere = try comm.allreduce(Int64(bf16Everywhere ? 1 : 0), op: .min) == 1 }
        if report {
            for note in notes { StandardError.write("note: \(note)\n") }
            let agreement = bf16Everywhere || here == .fp32 ? "" : " on this rank, but not on every rank: fp32"
            StandardError.write("note: --precision auto: \(choice.explanation(for: purpose)) (\(source))\(agreement)\n")
        }
        return bf16Everywhere ? .bf16 : .fp32
    }
}

/// `--low-memory`, for the commands that train (or time training).
enum LowMemoryFlag {
    static let help = ArgumentHelp("""
        bf16 runs: keep none of attention's q/k/v for backward either (the group norms' outputs \
        are recomputed there by default) and project them again (bit for bit the same results; \
        seed preset, batch 128 per rank, Zen 4: peak memory 835-859 instead of 936-967 MiB, train \
        step about 2% slower). No effect in fp32.
        """)
}
