/// One parameter of the U-Net under its diffusers name, in PyTorch layout
/// (conv weights OIHW, linear weights [out, in]).
public struct ParameterSpec: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    public var count: Int { shape.reduce(1, *) }

    /// "name [d0, d1, ...]", the format of Tests/Fixtures/unet_seed_parameters.txt.
    public var description: String { "\(name) [\(shape.map(String.init).joined(separator: ", "))]" }
}

extension UNetConfig {
    /// Every parameter of diffusers' `UNet2DModel` built from this config, in the order of
    /// `model.state_dict()`: modules in registration order (conv_in, time_embedding, class_embedding,
    /// down_blocks, up_blocks, mid_block — diffusers sets `self.mid_block = None` before
    /// registering up_blocks and assigns the module after them — conv_norm_out, conv_out);
    /// inside blocks, attentions before resnets before down/upsamplers.
    public var parameterSpecs: [ParameterSpec] {
        var list = ParameterList()
        let temb = timeEmbeddingChannels
        let c0 = blockOutChannels[0]

        list.conv("conv_in", out: c0, in: inChannels, kernel: 3)
        list.linear("time_embedding.linear_1", out: temb, in: c0)
        list.linear("time_embedding.linear_2", out: temb, in: temb)
        switch (classEmbedType, numClassEmbeds) {
        case (nil, nil): break
        case (nil, let rows?): list.add("class_embedding.weight", [rows, temb])
        case (.timestep?, _):
            list.linear("class_embedding.linear_1", out: temb, in: c0)
            list.linear("class_embedding.linear_2", out: temb, in: temb)
        }

        for (i, block) in downPlan.enumerated() {
            let prefix = "down_blocks.\(i)"
            if let attention = block.attention {
                for j in block.resnets.indices { list.attention("\(prefix).attentions.\(j)", attention) }
            }
            for (j, resnet) in block.resnets.enumerated() { list.resnet("\(prefix).resnets.\(j)", resnet, temb: temb) }
            if block.hasDownsample {
                list.conv("\(prefix).downsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: 3)
            }
        }

        for (i, block) in upPlan.enumerated() {
            let prefix = "up_blocks.\(i)"
            if let attention = block.attention {
                for j in block.resnets.indices { list.attention("\(prefix).attentions.\(j)", attention) }
            }
            for (j, resnet) in block.resnets.enumerated() { list.resnet("\(prefix).resnets.\(j)", resnet, temb: temb) }
            if block.hasUpsample {
                list.conv("\(prefix).upsamplers.0.conv", out: block.outChannels, in: block.outChannels, kernel: 3)
            }
        }

        let mid = midPlan
        if let attention = mid.attention { list.attention("mid_block.attentions.0", attention) }
        for (j, resnet) in mid.resnets.enumerated() { list.resnet("mid_block.resnets.\(j)", resnet, temb: temb) }

        list.norm("conv_norm_out", c0)
        list.conv("conv_out", out: outChannels, in: c0, kernel: 3)
        return list.specs
    }

    public var parameterCount: Int { parameterSpecs.reduce(0) { $0 + $1.count } }
}

/// Appends the parameters of one module kind under a name prefix, weight before bias as
/// PyTorch registers them.
private struct ParameterList {
    var specs: [ParameterSpec] = []

    mutating func add(_ name: String, _ shape: [Int]) { specs.append(ParameterSpec(name: name, shape: shape)) }

    mutating func conv(_ prefix: String, out: Int, in input: Int, kernel: Int) {
        add("\(prefix).weight", [out, input, kernel, kernel])
        add("\(prefix).bias", [out])
    }

    mutating func linear(_ prefix: String, out: Int, in input: Int) {
        add("\(prefix).weight", [out, input])
        add("\(prefix).bias", [out])
    }

    mutating func norm(_ prefix: String, _ channels: Int) {
        add("\(prefix).weight", [channels])
        add("\(prefix).bias", [channels])
    }

    mutating func resnet(_ prefix: String, _ plan: ResnetPlan, temb: Int) {
        norm("\(prefix).norm1", plan.concatChannels)
        conv("\(prefix).conv1", out: plan.outChannels, in: plan.concatChannels, kernel: 3)
        linear("\(prefix).time_emb_proj", out: plan.outChannels, in: temb)
        norm("\(prefix).norm2", plan.outChannels)
        conv("\(prefix).conv2", out: plan.outChannels, in: plan.outChannels, kernel: 3)
        if plan.hasShortcut { conv("\(prefix).conv_shortcut", out: plan.outChannels, in: plan.concatChannels, kernel: 1) }
    }

    mutating func attention(_ prefix: String, _ plan: AttentionPlan) {
        let inner = plan.heads * plan.headDim
        norm("\(prefix).group_norm", plan.channels)
        linear("\(prefix).to_q", out: inner, in: plan.channels)
        linear("\(prefix).to_k", out: inner, in: plan.channels)
        linear("\(prefix).to_v", out: inner, in: plan.channels)
        linear("\(prefix).to_out.0", out: plan.channels, in: inner)
    }
}
