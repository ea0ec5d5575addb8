/// The denoiser on PyTorch-layout tensors from a safetensors file: the parity check anyone can
/// run against diffusers (`UNet2DModel(sample, timestep).sample`).
public enum Prediction {
    /// Reads `sample` [B, C, H, W] and `timestep` [B] (int64 or float) from `inputPath`, and
    /// `class_labels` [B] (int64) for a class-conditional model; runs the model, and writes
    /// `output` [B, C, H, W] (float32) to `outputPath`.
    public static func run(model: UNet2DModel, inputPath: String, outputPath: String) throws {
        let file = try Safetensors(contentsOf: inputPath)
        for name in ["sample", "timestep"] where !file.contains(name) {
            throw FileError(path: inputPath, "tensor '\(name)' missing: expected sample [B,C,H,W] and timestep [B]")
        }
        let sample = try file.tensor(named: "sample")
        let c = model.config
        guard sample.shape.count == 4, sample.shape[1] == c.inChannels else {
            throw FileError(path: inputPath, "tensor 'sample' has shape \(sample.shape), expected [B, \(c.inChannels), H, W]")
        }
        let (b, h, w) = (sample.shape[0], sample.shape[2], sample.shape[3])
        let tInfo = try file.info(named: "timestep")
        let timesteps: [Float] = ["I64", "I32"].contains(tInfo.dtype.rawValue)
            ? try file.int64Values(named: "timestep").map { Float($0) }
            : try file.tensor(named: "timestep").array
        guard timesteps.count == b || timesteps.count == 1 else {
            throw FileError(path: inputPath, "tensor 'timestep' has \(timesteps.count) values, expected \(b) (one per sample) or 1")
        }
        let t = timesteps.count == b ? timesteps : [Float](repeating: timesteps[0], count: b)
        let labels: [Int]? = file.contains("class_labels") ? try file.int64Values(named: "class_labels").map { Int($0) } : nil
        if model.isClassConditional && labels == nil {
            throw FileError(path: inputPath, "tensor 'class_labels' missing: the model is class-conditional (num_class_embeds "
                            + "\(c.numClassEmbeds.map(String.init) ?? "null")); expected class_labels [B] (int64)")
        }
        var estimate = c.memoryEstimate(batch: b, height: h, width: w, training: false)
        estimate.otherBytes = CheckedSize.product([b, c.inChannels + c.outChannels, h, w]) * 4 * 2  // NCHW and NHWC copies
        try MemoryBudget.check(estimate, for: "predict on \(inputPath) (batch \(b), \(h)x\(w))")
        let x = Layout.nchwToNHWC(sample)
        let y: Tensor
        do { y = try model.forward(x, timesteps: t, classLabels: labels) } catch let error as ModelInputError {
            throw FileError(path: inputPath, "tensor 'sample' has shape \(sample.shape) [B, C, H, W]"
                            + (labels.map { " and 'class_labels' [\($0.count)]" } ?? "") + ": \(error)")
        }
        let out = Layout.nhwcToNCHW(y)
        try Safetensors.write([(name: "output", tensor: out)], metadata: ["format": "pt"], to: outputPath)
    }
}

/// PyTorch's NCHW and our NHWC.
public enum Layout {
    public static func nchwToNHWC(_ t: Tensor) -> Tensor {
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [n, h, w, c])
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out.data[((b * h + y) * w + x) * c + ch] = t.data[((b * c + ch) * h + y) * w + x]
        } } } }
        return out
    }

    public static func nhwcToNCHW(_ t: Tensor) -> Tensor {
        let (n, h, w, c) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let out = Tensor(uninitialized: [n, c, h, w])
        for b in 0..<n { for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            out.data[((b * c + ch) * h + y) * w + x] = t.data[((b * h + y) * w + x) * c + ch]
        } } } }
        return out
    }
}
