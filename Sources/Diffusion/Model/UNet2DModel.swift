/// diffusers' `UNet2DModel` (positional time embedding, conv down/upsampling, DownBlock2D /
/// AttnDownBlock2D, UNetMidBlock2D, UpBlock2D / AttnUpBlock2D), NHWC inside.
///
///   sample: [N, H, W, in], timesteps: [N]  ->  noise prediction [N, H, W, out]
///
/// The forward pass reads like diffusers' `UNet2DModel.forward`; the backward pass walks the
/// same graph in reverse. Parameters live in one `ParameterStore` under diffusers' names.
public final class UNet2DModel {
    public let config: UNetConfig
    public let store = ParameterStore()
    public let context = ForwardContext()
    /// What the output means (its pipeline's scheduler `prediction_type`); sampling converts
    /// it to eps (`ShardedSampling.generate`). Set by the trainer and when loading a folder.
    public var predictionType = PredictionType.epsilon

    let timeChannels, tembChannels: Int
    let convIn: Conv2DLayer
    let timeLinear1, timeLinear2: Linear
    let timeAct, timeAct2: SiLULayer
    /// Class conditioning (num_class_embeds / class_embed_type); nil for an unconditional model.
    let classEmbedding: ClassEmbedding?
    let downBlocks: [DownBlock]
    let midResnet1, midResnet2: ResnetBlock
    let midAttention: AttentionBlock?
    let upBlocks: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2DLayer

    struct DownBlock {
        var resnets: [ResnetBlock]
        var attentions: [AttentionBlock]
        var downsampler: Conv2DLayer?
    }

    struct UpBlock {
        var resnets: [ResnetBlock]
        var attentions: [AttentionBlock]
        var upsampler: Conv2DLayer?
        /// Channels of the main path entering each resnet (the rest of its input is the skip).
        var mainChannels: [Int]
    }

    /// Builds the model with zero parameters. Throws `ConfigError` for a config that does not
    /// describe a U-Net and `MemoryError` when its parameters and gradients cannot fit in
    /// memory (checked before anything is allocated).
    public init(config: UNetConfig) throws {
        try config.validate()
        try MemoryBudget.check(config.memoryEstimate(batch: 0, training: false),
                               for: "a model with block_out_channels \(config.blockOutChannels) and layers_per_block \(config.layersPerBlock)")
        self.config = config
        let ch = config.blockOutChannels, groups = config.normNumGroups, eps = Float(config.normEps)
        timeChannels = ch[0]
        tembChannels = ch[0] * 4
        let (s, c) = (store, context)
        convIn = Conv2DLayer(s, c, name: "conv_in", cin: config.inChannels, cout: ch[0], k: 3)
        timeLinear1 = Linear(s, c, name: "time_embedding.linear_1", in: timeChannels, out: tembChannels)
        timeLinear2 = Linear(s, c, name: "time_embedding.linear_2", in: tembChannels, out: tembChannels)
        timeAct = SiLULayer(c)
        timeAct2 = SiLULayer(c)
        classEmbedding = ClassEmbedding.make(s, c, config: config)  // diffusers registers it here too

        let temb = config.timeEmbeddingChannels
        func resnet(_ name: String, _ p: ResnetPlan) -> ResnetBlock {
            ResnetBlock(s, c, name: name, cin: p.concatChannels, cout: p.outChannels,
                        temb: temb, groups: groups, eps: eps)
        }
        func attention(_ name: String, _ p: AttentionPlan) -> AttentionBlock {
            AttentionBlock(s, c, name: name, channels: p.channels, headDim: p.headDim, groups: groups, eps: eps)
        }
        downBlocks = config.downPlan.enumerated().map { i, plan in
            let prefix = "down_blocks.\(i)"
            var block = DownBlock(resnets: [], attentions: [], downsampler: nil)
            for (j, r) in plan.resnets.enumerated() {
                block.resnets.append(resnet("\(prefix).resnets.\(j)", r))
                if let a = plan.attention { block.attentions.append(attention("\(prefix).attentions.\(j)", a)) }
            }
            if plan.hasDownsample {
                block.downsampler = Conv2DLayer(s, c, name: "\(prefix).downsamplers.0.conv", cin: plan.outChannels,
                                                cout: plan.outChannels, k: 3, stride: 2)
            }
            return block
        }

        let mid = config.midPlan
        midResnet1 = resnet("mid_block.resnets.0", mid.resnets[0])
        midAttention = mid.attention.map { attention("mid_block.attentions.0", $0) }
        midResnet2 = resnet("mid_block.resnets.1", mid.resnets[1])

        // Up-block resnet j concatenates [main path, skip popped from the down path].
        upBlocks = config.upPlan.enumerated().map { i, plan in
            let prefix = "up_blocks.\(i)"
            var block = UpBlock(resnets: [], attentions: [], upsampler: nil, mainChannels: [])
            for (j, r) in plan.resnets.enumerated() {
                block.mainChannels.append(r.inChannels)
                block.resnets.append(resnet("\(prefix).resnets.\(j)", r))
                if let a = plan.attention { block.attentions.append(attention("\(prefix).attentions.\(j)", a)) }
            }
            if plan.hasUpsample {
                block.upsampler = Conv2DLayer(s, c, name: "\(prefix).upsamplers.0.conv", cin: plan.outChannels,
                                              cout: plan.outChannels, k: 3)
            }
            return block
        }
        normOut = GroupNorm(s, c, name: "conv_norm_out", channels: ch[0], groups: groups, eps: eps, fusedSiLU: true)
        convOut = Conv2DLayer(s, c, name: "conv_out", cin: ch[0], cout: config.outChannels, k: 3)
        store.allocate()
    }

    /// Fresh parameters with PyTorch's default initialisation, from `seed`.
    public func initializeParameters(seed: UInt64) {
        var rng = RandomStream(seed: seed, key: 0x1417)
        convIn.initialize(&rng)
        timeLinear1.initialize(&rng); timeLinear2.initialize(&rng)
        for b in downBlocks {
            for r in b.resnets { r.initialize(&rng) }
            for a in b.attentions { a.initialize(&rng) }
            b.downsampler?.initialize(&rng)
        }
        midResnet1.initialize(&rng); midAttention?.initialize(&rng); midResnet2.initialize(&rng)
        for b in upBlocks {
            for r in b.resnets { r.initialize(&rng) }
            for a in b.attentions { a.initialize(&rng) }
            b.upsampler?.initialize(&rng)
        }
        normOut.initialize(); convOut.initialize(&rng)
        // Its own stream: every other parameter is the same as the unconditional model's from `seed`.
        var classRNG = RandomStream(seed: seed, key: 0x1418)
        classEmbedding?.initialize(&classRNG)
    }

    /// Whether `forward` needs class labels (the config has a class embedding).
    public var isClassConditional: Bool { classEmbedding != nil }

    // Saved between forward and backward.
    private var tembAct: Tensor?

    /// Predicts the noise. `classLabels` (one per image) are required by a class-conditional
    /// model and refused by an unconditional one, as diffusers does. With `recordForBackward`,
    /// keeps what `backward` needs. Throws `ModelInputError` for a batch the model cannot take
    /// (see `checkInput`).
    public func forward(_ sample: Tensor, timesteps: [Float], classLabels: [Int]? = nil,
                        recordForBackward: Bool = false) throws -> Tensor {
        try checkInput(shape: sample.shape, timesteps: timesteps, classLabels: classLabels)
        context.recordsForBackward = recordForBackward

        // 1. time embedding (+ class embedding); every resnet uses silu(temb)
        let tproj = SinusoidalTimestep.embed(timesteps, dim: timeChannels, flipSinToCos: config.flipSinToCos,
                                             freqShift: Float(config.freqShift))
        let temb = timeLinear2.forward(timeAct.forward(timeLinear1.forward(tproj)))
        if let classEmbedding, let classLabels { temb.add(classEmbedding.forward(classLabels)) }
        let tembAct = timeAct2.forward(temb)

        // 2. down path, keeping every skip
        var h = convIn.forward(sample)
        var skips = [h]
        for b in downBlocks {
            for (j, r) in b.resnets.enumerated() {
                h = r.forward(h, tembAct: tembAct)
                if !b.attentions.isEmpty { h = b.attentions[j].forward(h) }
                skips.append(h)
            }
            if let d = b.downsampler { h = d.forward(roundingInput: h); skips.append(h) }
        }

        // 3. middle
        h = midResnet1.forward(h, tembAct: tembAct)
        if let a = midAttention { h = a.forward(h) }
        h = midResnet2.forward(h, tembAct: tembAct)

        // 4. up path, consuming skips from the end
        for b in upBlocks {
            for (j, r) in b.resnets.enumerated() {
                h = r.forward(h, concatenatedWith: skips.removeLast(), tembAct: tembAct)
                if !b.attentions.isEmpty { h = b.attentions[j].forward(h) }
            }
            if let u = b.upsampler { h = u.forward(upsampling: h) }
        }

        // 5. output
        let out = convOut.forward(normalized: h, by: normOut)
        self.tembAct = recordForBackward ? tembAct : nil
        return out
    }

    /// Accumulates parameter gradients into `store.grads` for d(loss)/d(output) = `dOutput`;
    /// returns d(loss)/d(sample). `gradientsReady(offset)` is called as backward goes: every
    /// parameter gradient at or above `offset` in the store is then final (parameters are
    /// registered in forward order, and backward finishes them from the end), so its
    /// allreduce may start.
    @discardableResult
    public func backward(_ dOutput: Tensor, gradientsReady: ((Int) -> Void)? = nil) -> Tensor {
        guard let tembAct else { preconditionFailure("UNet backward without a recorded forward") }
        self.tembAct = nil
        let dTembAct = Tensor(shape: tembAct.shape)

        // 5. output
        var dh = normOut.backward(convOut.backward(dOutput))
        gradientsReady?(normOut.weightOffset)

        // 4. up path in reverse; skip gradients collected in down-path order
        var dSkips: [Tensor] = []
        for b in upBlocks.reversed() {
            if let u = b.upsampler { dh = Upsample2x.backward(u.backward(dh)) }
            for j in stride(from: b.resnets.count - 1, through: 0, by: -1) {
                if !b.attentions.isEmpty { dh = b.attentions[j].backward(dh) }
                let dcat = b.resnets[j].backward(dh, dTembAct: dTembAct)
                let (dMain, dSkip) = ChannelConcat.backward(dcat, split: b.mainChannels[j])
                dSkips.append(dSkip)
                dh = dMain
                gradientsReady?(b.resnets[j].firstParameterOffset)
            }
        }
        // dSkips is now ordered like the forward's `skips` list (first skip first).

        // 3. middle
        dh = midResnet2.backward(dh, dTembAct: dTembAct)
        if let a = midAttention { dh = a.backward(dh) }
        dh = midResnet1.backward(dh, dTembAct: dTembAct)
        gradientsReady?(midResnet1.firstParameterOffset)

        // 2. down path in reverse, adding each skip's gradient where it left
        for b in downBlocks.reversed() {
            if let d = b.downsampler { dh.add(dSkips.removeLast()); dh = d.backward(dh) }
            for j in stride(from: b.resnets.count - 1, through: 0, by: -1) {
                dh.add(dSkips.removeLast())
                if !b.attentions.isEmpty { dh = b.attentions[j].backward(dh) }
                dh = b.resnets[j].backward(dh, dTembAct: dTembAct)
                gradientsReady?(b.resnets[j].firstParameterOffset)
            }
        }
        dh.add(dSkips.removeLast())
        precondition(dSkips.isEmpty)
        let dSample = convIn.backward(dh)

        // 1. class and time embedding (timesteps and labels themselves get no gradient)
        let dTemb = timeAct2.backward(dTembAct)
        classEmbedding?.backward(dTemb)
        timeLinear1.backwardParametersOnly(timeAct.backward(timeLinear2.backward(dTemb)))
        gradientsReady?(0)
        return dSample
    }
}
