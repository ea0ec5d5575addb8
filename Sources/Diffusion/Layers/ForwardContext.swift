/// State shared by all layers of one model: whether a forward pass keeps what its backward
/// needs. Sampling and evaluation run with `recordsForBackward = false` and keep nothing.
public final class ForwardContext {
    public var recordsForBackward = false
    /// What runs this model's convolutions: our kernels unless a command or test picks oneDNN.
    public var convolutions: ConvolutionBackend = .swift
    /// The arithmetic of the linears' products (`LinearProducts`): bf16 where the
    /// convolutions run bf16, as autocast rounds both, else fp32.
    public var linearPrecision: ConvolutionPrecision {
        if case .oneDNN(.bf16, _) = convolutions { return .bf16 }
        return .fp32
    }
    /// Group norms hand their outputs to the convolutions (and attention projections) after
    /// them in bf16, which those would round to anyway, made from xhat rounded to bf16, and
    /// keep that xhat for backward instead of their fp32 input (`GroupNorm.forwardBF16`);
    /// inputs only convolutions read are kept in bf16 too: where the convolutions run bf16.
    public var bf16Activations: Bool { normOutputsInBF16 && linearPrecision == .bf16 }
    /// Off: the norms write fp32 and keep their fp32 input, and the convolutions round and keep
    /// copies: bf16 only in the products' operands (`BF16ActivationTests` compares the two).
    public var normOutputsInBF16 = true
    /// bf16 activations: keep none of the norms' outputs; backward makes them again from the
    /// norm's bf16 xhat (one multiply-add and SiLU a value). The default: on the seed preset,
    /// batch 128 on Zen 4, peak RSS 936-967 instead of 1116-1150 MiB for 1-4% of the train
    /// step (docs/kernels.md). Off keeps them (tests compare the two bit for bit).
    public var recomputesNormOutputs = true
    /// bf16 activations: attention keeps no q|k|v either and projects the recomputed norm
    /// output again in backward (`train --low-memory`): seed preset, 835-859 MiB.
    public var recomputesAttentionProjections = false
    /// Collects time per kind of layer when set (benchmarks only).
    public var profile: StepProfile?
    public init() {}
}
