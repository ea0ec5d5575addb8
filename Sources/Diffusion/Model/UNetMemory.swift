import Foundation

/// Sizes of a U-Net worked out from its config alone, with overflow-checked arithmetic and
/// in closed form over layers_per_block (no per-layer lists: a config with 10^8 layers per
/// block is measured, then refused, without building anything of that size). The channel
/// plan is the one UNetPlan.swift documents; a test checks `parameterCount` against the
/// built model's parameter store.
extension UNetConfig {
    /// `parameterCount` (diffusers' `num_parameters()`) without listing the parameters: nil on overflow.
    public var checkedParameterCount: CheckedSize {
        let c = blockOutChannels.map { CheckedSize($0) }, n = c.count, L = CheckedSize(layersPerBlock)
        let temb = c[0] * 4
        func conv(_ i: CheckedSize, _ o: CheckedSize, _ k: Int) -> CheckedSize { i * o * (k * k) + o }
        func linear(_ i: CheckedSize, _ o: CheckedSize) -> CheckedSize { i * o + o }
        func norm(_ ch: CheckedSize) -> CheckedSize { ch * 2 }
        func resnet(_ cin: CheckedSize, _ cout: CheckedSize) -> CheckedSize {
            norm(cin) + conv(cin, cout, 3) + linear(temb, cout) + norm(cout) + conv(cout, cout, 3)
                + (cin == cout ? 0 : conv(cin, cout, 1))
        }
        func attention(_ ch: CheckedSize) -> CheckedSize { norm(ch) + linear(ch, ch) * 4 }

        var total = conv(CheckedSize(inChannels), c[0], 3) + linear(c[0], temb) + linear(temb, temb)
        switch (classEmbedType, numClassEmbeds) {
        case (nil, nil): break
        case (nil, let rows?): total += CheckedSize(rows) * temb
        case (.timestep?, _): total += linear(c[0], temb) + linear(temb, temb)
        }
        for i in 0..<n {
            let input = c[max(i - 1, 0)], output = c[i]
            total += resnet(input, output) + (L - 1) * resnet(output, output)
            if downBlockTypes[i].hasAttention { total += L * attention(output) }
            if i < n - 1 { total += conv(output, output, 3) }
        }
        total += resnet(c[n - 1], c[n - 1]) * 2 + (addAttention ? attention(c[n - 1]) : 0)
        let r = Array(c.reversed())
        for i in 0..<n {
            let prev = r[max(i - 1, 0)], output = r[i], input = r[min(i + 1, n - 1)]
            // resnet 0 takes [prev, skip of `output`], the last [output, skip of `input`], the rest [output, output]
            total += resnet(prev + output, output) + (L - 1) * resnet(output * 2, output) + resnet(output + input, output)
            if upBlockTypes[i].hasAttention { total += (L + 1) * attention(output) }
            if i < n - 1 { total += conv(output, output, 3) }
        }
        return total + norm(c[0]) + conv(c[0], CheckedSize(outChannels), 3)
    }

    /// Memory of the model with a batch of `batch` images of `height` x `width` (default
    /// sample_size) in flight: parameters and gradients (plus Adam's moments when
    /// `training`), and activations — for training, every tensor forward keeps for backward
    /// plus backward's skip gradients and working set; for inference, the skip connections
    /// plus a few tensors of the widest layer. An upper bound, not an exact count: 1.2-1.5x
    /// the peak resident size measured with `launcher bench model` (docs/model-configs.md).
    public func memoryEstimate(batch: Int, height: Int? = nil, width: Int? = nil, training: Bool) -> MemoryEstimate {
        let h = height ?? sampleSize, w = width ?? sampleSize
        let c = blockOutChannels.map { CheckedSize($0) }, n = c.count, L = CheckedSize(layersPerBlock)
        func pixels(_ level: Int) -> CheckedSize { CheckedSize(max(h >> level, 1)) * max(w >> level, 1) }
        func heads(_ ch: CheckedSize) -> CheckedSize { CheckedSize(ch.value.map { $0 / max(attentionHeadDim, 1) }) }
        // Floats per image. A resnet keeps norm1's output, conv1's, norm2's and its own
        // output; an attention its norm, q|k|v, o, the log-sum-exp and its output.
        func resnetKept(_ cin: CheckedSize, _ cout: CheckedSize, _ p: CheckedSize) -> CheckedSize { p * (cin + cout * 3) }
        func attentionKept(_ ch: CheckedSize, _ p: CheckedSize) -> CheckedSize { p * (ch * 6 + heads(ch)) }

        var kept = pixels(0) * (CheckedSize(inChannels) + c[0])
        var skips = pixels(0) * c[0]
        var widest = pixels(0) * CheckedSize.maximum(CheckedSize(max(inChannels, outChannels)), c[0] * 2)
        for i in 0..<n {
            let input = c[max(i - 1, 0)], output = c[i], p = pixels(i)
            kept += resnetKept(input, output, p) + (L - 1) * resnetKept(output, output, p)
            skips += L * output * p
            if downBlockTypes[i].hasAttention { kept += L * attentionKept(output, p) }
            if i < n - 1 { kept += output * pixels(i + 1); skips += output * pixels(i + 1) }
        }
        let p = pixels(n - 1)
        kept += resnetKept(c[n - 1], c[n - 1], p) * 2 + (addAttention ? attentionKept(c[n - 1], p) : 0)
        let r = Array(c.reversed())
        for i in 0..<n {
            let prev = r[max(i - 1, 0)], output = r[i], input = r[min(i + 1, n - 1)], level = n - 1 - i, p = pixels(level)
            // Each resnet also keeps its concatenated input.
            func concatKept(_ cat: CheckedSize) -> CheckedSize { resnetKept(cat, output, p) + cat * p }
            kept += concatKept(prev + output) + (L - 1) * concatKept(output * 2) + concatKept(output + input)
            if upBlockTypes[i].hasAttention { kept += (L + 1) * attentionKept(output, p) }
            // nearest x2 output and the conv's, at the level above
            if i < n - 1 { kept += output * pixels(level - 1) * 2 }
            let attended = upBlockTypes[i].hasAttention || downBlockTypes[level].hasAttention
            for cat in [prev + output, output + input, attended ? output * 3 : 0] { widest = .maximum(widest, p * cat) }
        }
        kept += pixels(0) * (c[0] + CheckedSize(outChannels))

        // Training also holds the skips' gradients and a few layer-sized gradients at once.
        let perImage = training ? kept + skips + widest * 6 : skips + widest * 6
        let parameters = checkedParameterCount
        return MemoryEstimate(parameters: parameters,
                              parameterBytes: parameters * (training ? 16 : 8),
                              activationBytes: perImage * batch * 4
                                  + (batch > 0 ? attentionScratchFloats(height: h, width: w) * 4 : 0))
    }

    /// The general attention path (heads not 8 wide, or sequences not a multiple of 8)
    /// materializes a length x length score matrix (two in backward) per worker thread.
    func attentionScratchFloats(height h: Int, width w: Int) -> CheckedSize {
        var length: CheckedSize = 0
        for i in 0..<blockCount {
            let attended = downBlockTypes[i].hasAttention || upBlockTypes[blockCount - 1 - i].hasAttention
                || (addAttention && i == blockCount - 1)
            let l = CheckedSize(max(h >> i, 1)) * max(w >> i, 1)
            if attended && (attentionHeadDim != 8 || (l.value ?? 1) % 8 != 0) { length = .maximum(length, l) }
        }
        return length * length * 2 * ProcessInfo.processInfo.activeProcessorCount
    }
}
