/// What a user asks to run the convolutions on (the launcher's `--backend`), before this
/// machine's abilities turn it into a `ConvolutionBackend`.
public enum ConvolutionLibrary: String, CaseIterable, Sendable {
    /// oneDNN where it was measured faster (AVX-512, or bf16), else our kernels:
    /// `ConvolutionBackend.automatic`.
    case auto
    /// Our own kernels (`Conv2D`).
    case swift
    /// oneDNN (Debian's libdnnl).
    case onednn
}

/// The arithmetic a user asks for (the launcher's `--precision`): a `ConvolutionPrecision`,
/// or `auto` to let `PrecisionChoice.measure()` pick.
public enum PrecisionRequest: String, CaseIterable, Sendable {
    case fp32, bf16, auto

    /// The precision itself; nil for `auto`, which needs a measurement.
    public var fixed: ConvolutionPrecision? {
        switch self {
        case .fp32: return .fp32
        case .bf16: return .bf16
        case .auto: return nil
        }
    }
}

extension ConvolutionBackend {
    /// The backend `library` names at `precision` and `algorithm`, before `resolve` adapts it
    /// to this machine.
    public static func requested(_ library: ConvolutionLibrary, _ precision: ConvolutionPrecision,
                                 _ algorithm: ConvolutionAlgorithm) -> ConvolutionBackend {
        switch library {
        case .auto: return .automatic(precision, algorithm)
        case .onednn: return .oneDNN(precision, algorithm)
        case .swift: return .swift
        }
    }
}
