/// Arithmetic of a oneDNN convolution. bf16 rounds inputs and weights to bfloat16 (8-bit
/// mantissa) and accumulates and writes fp32, as PyTorch's autocast does on CPU.
public enum ConvolutionPrecision: String, CaseIterable, Sendable {
    case fp32, bf16
}

/// How oneDNN computes a 3x3 convolution. Direct multiplies every tap, as our kernels do.
/// Winograd F(4x4, 3x3) turns each 6x6 input tile and each 3x3 filter into 6x6 transforms
/// and multiplies those: 36 products per 16 outputs instead of 144, i.e. 4x fewer, paid for
/// by the transforms, reorders to a blocked layout, and rounding errors that grow with the
/// transform's constants (relative errors near 1e-5 instead of 1e-6 here;
/// OneDNNConvolutionTests states the bound).
public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
    /// Every tap multiplied: the reference.
    case direct
    /// Winograd on the layers where it pays (`OneDNNConvolution.usesWinograd`: fp32, 3x3
    /// stride 1, at least 64 channels on one side), direct on the rest.
    case winograd
}

/// What runs a model's convolutions (its `ForwardContext.convolutions`).
///
/// Our kernels are the library's default and the reference the others are tested against.
/// The command line's default (`automatic`) picks oneDNN where the CPU has AVX-512 and our
/// kernels elsewhere, after measurements over a whole U-Net's convolutions (`launcher bench
/// conv`, docs/kernels.md): on an AVX2-only EPYC (Zen 3) oneDNN fp32 ran at 0.77-0.91x our
/// kernels, on an AVX-512 one (Zen 4) at 1.2x, and bf16 at 2.1x.
public enum ConvolutionBackend: Hashable, Sendable, CustomStringConvertible {
    /// Our own kernels (`Conv2D`): the default, and the reference the others are tested against.
    case swift
    /// oneDNN (Debian's libdnnl) at the given precision and algorithm.
    case oneDNN(ConvolutionPrecision, ConvolutionAlgorithm = .direct)

    /// What `requested` becomes on this machine, with a note when it had to change:
    /// oneDNN without an engine falls back to our kernels, and bf16 without native bf16
    /// instructions (AVX512-BF16 or AMX) to fp32.
    public static func resolve(_ requested: ConvolutionBackend) -> (backend: ConvolutionBackend, note: String?) {
        switch requested {
        case .swift:
            return (.swift, nil)
        case .oneDNN where !OneDNN.isAvailable:
            return (.swift, "oneDNN could not start a CPU engine: convolutions run on the Swift kernels")
        case .oneDNN(.bf16, let algorithm) where !OneDNN.hasNativeBF16:
            // Below avx512_core_bf16, oneDNN 2.6.3 emulates bf16 (avx512_core: fp32 arithmetic plus
            // conversions, so never faster than fp32) or has none (avx2).
            return (.oneDNN(.fp32, algorithm), "oneDNN dispatches \(OneDNN.isaName) here, without native bf16 "
                        + "(AVX512-BF16 or AMX): convolutions run in fp32 instead of bf16")
        case .oneDNN(let precision, .winograd) where precision != .fp32:
            return (.oneDNN(precision, .direct), nil)  // oneDNN has Winograd in fp32 only
        case .oneDNN:
            return (requested, nil)
        }
    }

    /// The fastest measured backend on this CPU at `precision`: oneDNN with AVX-512 or for
    /// bf16, our kernels otherwise (then `resolve` says what bf16 became).
    public static func automatic(_ precision: ConvolutionPrecision, _ algorithm: ConvolutionAlgorithm) -> ConvolutionBackend {
        precision == .bf16 || (OneDNN.isAvailable && OneDNN.hasAVX512) ? .oneDNN(precision, algorithm) : .swift
    }

    /// "swift", "onednn fp32", "onednn bf16", "onednn fp32 winograd".
    public var description: String {
        switch self {
        case .swift: return "swift"
        case .oneDNN(let p, .direct): return "onednn \(p.rawValue)"
        case .oneDNN(let p, let a): return "onednn \(p.rawValue) \(a.rawValue)"
        }
    }

    /// The library and the instruction set it runs on, for logs and benchmarks.
    public static var oneDNNDescription: String { OneDNN.versionDescription }
}

extension ConvolutionBackend {
    /// `Conv2D.forward` on this backend: y = conv(x, weight) + bias (+ imageBias[n] on every
    /// pixel of image n, + residual). x may be fp32 or already rounded to bf16 (NHWC bit
    /// patterns, a group norm's output): oneDNN bf16 reads that as it is, anything else gets it
    /// widened. Returns the backend that ran it: our kernels when oneDNN has no primitive for
    /// the shape.
    @discardableResult
    package func forward(_ g: ConvGeometry, input x: ActivationInput, weight: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, imageBias: UnsafePointer<Float>? = nil,
                         residual: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>) -> ConvolutionBackend {
        if case .oneDNN(let precision, let algorithm) = self, onOneDNN(precision, x, g, {
            OneDNNConvolution.forward(g, precision: precision, algorithm: algorithm, x: $0, weight: weight, bias: bias,
                                      imageBias: imageBias, residual: residual, y: y)
        }) {
            return self
        }
        x.withFP32(count: g.inputCount) {
            Conv2D.forward(g, x: $0, weight: weight, bias: bias, imageBias: imageBias, residual: residual, y: y)
        }
        return .swift
    }

    /// `Conv2D.backward` on this backend, x as `forward(_:input:...)` took it: dweight, dbias
    /// += their gradients; dx (when given) overwritten. Returns the backend that ran it.
    @discardableResult
    package func backward(_ g: ConvGeometry, input x: ActivationInput, weight: UnsafePointer<Float>,
                          dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                          dbias: UnsafeMutablePointer<Float>?) -> ConvolutionBackend {
        if case .oneDNN(let precision, let algorithm) = self, onOneDNN(precision, x, g, {
            OneDNNConvolution.backward(g, precision: precision, algorithm: algorithm, x: $0, weight: weight, dy: dy, dx: dx,
                                       dweight: dweight, dbias: dbias)
        }) {
            return self
        }
        x.withFP32(count: g.inputCount) {
            Conv2D.backward(g, x: $0, weight: weight, dy: dy, dx: dx, dweight: dweight, dbias: dbias)
        }
        return .swift
    }

    /// `forward(_:input:...)` on an fp32 input.
    @discardableResult
    package func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                         imageBias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil,
                         y: UnsafeMutablePointer<Float>) -> ConvolutionBackend {
        forward(g, input: .fp32(x), weight: weight, bias: bias, imageBias: imageBias, residual: residual, y: y)
    }

    /// `backward(_:input:...)` on an fp32 input.
    @discardableResult
    package func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                          dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                          dbias: UnsafeMutablePointer<Float>?) -> ConvolutionBackend {
        backward(g, input: .fp32(x), weight: weight, dy: dy, dx: dx, dweight: dweight, dbias: dbias)
    }

    /// Runs a oneDNN primitive on x: as it is, except bf16 for an fp32 convolution, which
    /// reads it widened. False when oneDNN has no primitive for the shape.
    private func onOneDNN(_ precision: ConvolutionPrecision, _ x: ActivationInput, _ g: ConvGeometry,
                          _ run: (ActivationInput) -> Bool) -> Bool {
        if precision == .fp32 && x.isBF16 { return x.withFP32(count: g.inputCount) { run(.fp32($0)) } }
        return run(x)
    }
}
