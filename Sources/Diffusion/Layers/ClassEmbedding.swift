/// diffusers' `class_embed_type` values this implementation builds (UNet2DModel's
/// `class_embedding`). "identity" and "projection" take an embedding vector per image instead
/// of a class label and are refused when a config is read.
public enum ClassEmbedType: String, CaseIterable, Sendable {
    /// `TimestepEmbedding(block_out_channels[0], temb)` over the sinusoidal features of the label.
    case timestep
}

/// UNet2DModel's class conditioning: one vector per image, of the time embedding's width,
/// added to the time embedding before its SiLU (diffusers: `emb = emb + class_emb`), so every
/// resnet sees it through `time_emb_proj`.
///
///   labels: [N] class indices  ->  [N, temb]
///
///   table (class_embed_type null, num_class_embeds K; PyTorch's nn.Embedding):
///     forward   y[n] = W[label_n]                   W: [K, temb], "class_embedding.weight"
///     backward  dW[label_n] += dy[n]                (rows of repeated labels add up)
///   timestep (class_embed_type "timestep"; diffusers' TimestepEmbedding):
///     forward   y = linear_2(silu(linear_1(sinusoidal(label))))   "class_embedding.linear_{1,2}"
///     backward  through linear_2, SiLU, linear_1 (parameters only: labels take no gradient)
public final class ClassEmbedding {
    enum Kind {
        case table(weightOffset: Int, rows: Int)
        case timestep(linear1: Linear, act: SiLULayer, linear2: Linear, channels: Int, flipSinToCos: Bool, freqShift: Float)
    }

    let kind: Kind
    let store: ParameterStore
    let context: ForwardContext
    let width: Int
    private var labels: [Int]?

    /// The class embedding `config` asks for, registered in `store`; nil for an unconditional
    /// config (class_embed_type null and num_class_embeds null).
    static func make(_ store: ParameterStore, _ context: ForwardContext, config: UNetConfig) -> ClassEmbedding? {
        let width = config.timeEmbeddingChannels
        switch (config.classEmbedType, config.numClassEmbeds) {
        case (nil, nil):
            return nil
        case (nil, let rows?):
            let offset = store.register("class_embedding.weight", shape: [rows, width])
            return ClassEmbedding(store, context, width: width, kind: .table(weightOffset: offset, rows: rows), declaredClasses: rows)
        case (.timestep?, _):
            let c0 = config.blockOutChannels[0]
            let kind = Kind.timestep(linear1: Linear(store, context, name: "class_embedding.linear_1", in: c0, out: width),
                                     act: SiLULayer(context),
                                     linear2: Linear(store, context, name: "class_embedding.linear_2", in: width, out: width),
                                     channels: c0, flipSinToCos: config.flipSinToCos, freqShift: Float(config.freqShift))
            return ClassEmbedding(store, context, width: width, kind: kind, declaredClasses: config.numClassEmbeds)
        }
    }

    private init(_ store: ParameterStore, _ context: ForwardContext, width: Int, kind: Kind, declaredClasses: Int?) {
        self.store = store; self.context = context; self.width = width; self.kind = kind
        self.declaredClasses = declaredClasses
    }

    /// num_class_embeds: the table's rows; for the timestep kind, the labels the config declares (may be nil).
    let declaredClasses: Int?

    /// PyTorch's defaults: nn.Embedding N(0, 1), Linear uniform.
    func initialize(_ rng: inout RandomStream) {
        switch kind {
        case .table(let offset, let rows):
            for i in 0..<(rows * width) { store.values[offset + i] = Float(rng.normal()) }
        case .timestep(let linear1, _, let linear2, _, _, _):
            linear1.initialize(&rng); linear2.initialize(&rng)
        }
    }

    /// The labels accepted: 0..<num_class_embeds (any non-negative label for a timestep
    /// embedding whose config declares no count).
    var labelRange: Range<Int> { 0..<(declaredClasses ?? Int.max) }

    /// [N, width]. The caller has checked the labels (`UNet2DModel.checkInput`).
    func forward(_ labels: [Int]) -> Tensor {
        self.labels = context.recordsForBackward ? labels : nil
        switch kind {
        case .table(let offset, let rows):
            let y = Tensor(uninitialized: [labels.count, width])
            for (n, label) in labels.enumerated() {
                precondition((0..<rows).contains(label), "class label \(label) outside 0..<\(rows)")
                (y.data + n * width).update(from: store.values + offset + label * width, count: width)
            }
            return y
        case .timestep(let linear1, let act, let linear2, let channels, let flip, let shift):
            let features = SinusoidalTimestep.embed(labels.map(Float.init), dim: channels, flipSinToCos: flip, freqShift: shift)
            return linear2.forward(act.forward(linear1.forward(features)))
        }
    }

    /// Accumulates the parameter gradients for d(loss)/d(output) = `dy` [N, width].
    func backward(_ dy: Tensor) {
        guard let labels else { preconditionFailure("class embedding backward without a recorded forward") }
        self.labels = nil
        precondition(dy.shape == [labels.count, width], "class embedding backward: dy \(dy.shape) for \(labels.count) labels")
        switch kind {
        case .table(let offset, _):
            for (n, label) in labels.enumerated() {
                Vectorized.addInPlace(store.grads + offset + label * width, dy.data + n * width, count: width)
            }
        case .timestep(let linear1, let act, let linear2, _, _, _):
            linear1.backwardParametersOnly(act.backward(linear2.backward(dy)))
        }
    }
}
