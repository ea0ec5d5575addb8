/// Channel plans of the U-Net's blocks, derived from a config the way diffusers'
/// `UNet2DModel.__init__` and `get_down_block` / `get_up_block` derive them. The model and
/// the parameter list are both built from these, so they cannot disagree.
///
/// Let c = block_out_channels, n = c.count, L = layers_per_block.
///
/// Down path. conv_in maps in_channels -> c[0]. Down block i takes c[max(i-1, 0)] to c[i]
/// with L resnets (the first does the change), an attention after each resnet in
/// AttnDownBlock2D, and a stride-2 conv (c[i] -> c[i]) unless it is the last block.
/// Every resnet(+attention) output and every downsampler output is pushed on a skip stack,
/// after conv_in's output: n*L + (n-1) + 1 entries.
///
/// Mid block: resnet, attention (if add_attention), resnet, all at c[n-1].
///
/// Up path (block i works at r[i] = c[n-1-i]; diffusers' names in parentheses):
///   out_channels        = r[i]
///   prev_output_channel = r[i-1] for i > 0, r[0] for i = 0 (the mid block's output)
///   in_channels         = r[min(i+1, n-1)]
/// The block has L+1 resnets, each concatenating [running activation, skip popped off the
/// stack] along channels (activation first):
///   resnet j input  = (j == 0 ? prev_output_channel : out_channels)
///   resnet j skip   = (j == L ? in_channels : out_channels)
///   resnet j output = out_channels (1x1 conv_shortcut when input + skip != output)
/// Why: up block i pops exactly the L+1 entries down block n-1-i pushed last — its L resnet
/// outputs (r[i] each), then the entry below them, which is the previous down block's
/// downsampler output, r[i+1] channels (for the last up block, conv_in's output, c[0]).
/// Then nearest x2 + 3x3 conv (r[i] -> r[i]) unless it is the last block.
/// Seed (32,64,128,256), L=2: up block 0 resnets take 256+256, 256+256, 256+128;
/// block 1: 256+128, 128+128, 128+64; block 2: 128+64, 64+64, 64+32; block 3: 64+32, 32+32, 32+32.

/// A ResnetBlock2D: norm1, SiLU, conv1 3x3, + time_emb_proj(SiLU(temb)), norm2, SiLU, conv2 3x3,
/// plus the input (through conv_shortcut 1x1 when the channel count changes).
public struct ResnetPlan: Equatable, Sendable {
    /// Channels of the running activation entering the block.
    public let inChannels: Int
    /// Channels of the skip concatenated after it (up path only; 0 elsewhere).
    public let skipChannels: Int
    public let outChannels: Int

    /// Channels of the block's actual input (activation and skip concatenated).
    public var concatChannels: Int { inChannels + skipChannels }
    public var hasShortcut: Bool { concatChannels != outChannels }
}

/// A self-attention layer over the pixels (diffusers `Attention` with a GroupNorm in front,
/// residual connection, biases on q, k, v and out).
public struct AttentionPlan: Equatable, Sendable {
    public let channels: Int
    public let heads: Int
    public let headDim: Int
}

public struct DownBlockPlan: Equatable, Sendable {
    public let type: UNetConfig.DownBlockType
    public let inChannels: Int
    public let outChannels: Int
    public let resnets: [ResnetPlan]
    /// The attention that follows each resnet, if the block has attention.
    public let attention: AttentionPlan?
    /// Stride-2 3x3 conv, outChannels -> outChannels.
    public let hasDownsample: Bool
}

public struct MidBlockPlan: Equatable, Sendable {
    public let channels: Int
    /// Two resnets at `channels`.
    public let resnets: [ResnetPlan]
    /// Between the two resnets, if `add_attention`.
    public let attention: AttentionPlan?
}

public struct UpBlockPlan: Equatable, Sendable {
    public let type: UNetConfig.UpBlockType
    /// diffusers' `prev_output_channel`: channels of the activation arriving from below.
    public let prevOutputChannels: Int
    /// diffusers' `in_channels`: the skip width of the last resnet.
    public let inChannels: Int
    public let outChannels: Int
    /// layers_per_block + 1 resnets, each with a skip.
    public let resnets: [ResnetPlan]
    public let attention: AttentionPlan?
    /// Nearest x2, then 3x3 conv outChannels -> outChannels.
    public let hasUpsample: Bool
}

extension UNetConfig {
    private func attentionPlan(channels: Int) -> AttentionPlan {
        AttentionPlan(channels: channels, heads: channels / attentionHeadDim, headDim: attentionHeadDim)
    }

    public var downPlan: [DownBlockPlan] {
        let c = blockOutChannels
        return downBlockTypes.indices.map { i in
            let input = c[max(i - 1, 0)], output = c[i]
            let resnets = (0..<layersPerBlock).map { j in
                ResnetPlan(inChannels: j == 0 ? input : output, skipChannels: 0, outChannels: output)
            }
            return DownBlockPlan(type: downBlockTypes[i], inChannels: input, outChannels: output, resnets: resnets,
                                 attention: downBlockTypes[i].hasAttention ? attentionPlan(channels: output) : nil,
                                 hasDownsample: i < blockCount - 1)
        }
    }

    public var midPlan: MidBlockPlan {
        let ch = blockOutChannels[blockCount - 1]
        let resnet = ResnetPlan(inChannels: ch, skipChannels: 0, outChannels: ch)
        return MidBlockPlan(channels: ch, resnets: [resnet, resnet],
                            attention: addAttention ? attentionPlan(channels: ch) : nil)
    }

    public var upPlan: [UpBlockPlan] {
        let r = Array(blockOutChannels.reversed())
        return upBlockTypes.indices.map { i in
            let prev = r[max(i - 1, 0)], output = r[i], input = r[min(i + 1, blockCount - 1)]
            let resnets = (0...layersPerBlock).map { j in
                ResnetPlan(inChannels: j == 0 ? prev : output,
                           skipChannels: j == layersPerBlock ? input : output,
                           outChannels: output)
            }
            return UpBlockPlan(type: upBlockTypes[i], prevOutputChannels: prev, inChannels: input, outChannels: output,
                               resnets: resnets,
                               attention: upBlockTypes[i].hasAttention ? attentionPlan(channels: output) : nil,
                               hasUpsample: i < blockCount - 1)
        }
    }

    /// Channels of the skip stack the down path builds, in push order (conv_in's output
    /// first). The up path pops them from the end: up block i's resnet j takes the
    /// (i*(L+1) + j + 1)-th entry from the top.
    public var skipChannels: [Int] {
        var stack = [blockOutChannels[0]]
        for block in downPlan {
            stack += block.resnets.map(\.outChannels)
            if block.hasDownsample { stack.append(block.outChannels) }
        }
        return stack
    }
}
