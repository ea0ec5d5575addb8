/// diffusers' `ResnetBlock2D` (time_embedding_norm "default", output_scale_factor 1, dropout 0).
///
///   x: [N, H, W, Cin], tembAct = silu(temb): [N, T]  ->  [N, H, W, Cout]
///   h = conv1(silu(norm1(x))) + time_emb_proj(tembAct)[n, :] broadcast over pixels
///   y = shortcut(x) + conv2(silu(norm2(h))),  shortcut = 1x1 conv_shortcut when Cin != Cout
/// The time embedding rides along with conv1's bias and the shortcut with conv2's, written
/// into the output rows before each product is added; in backward the shortcut's gradient
/// is added in norm1's last pass.
public final class ResnetBlock {
    let norm1, norm2: GroupNorm
    let conv1, conv2: Conv2DLayer
    let timeProj: Linear
    let shortcut: Conv2DLayer?
    let cout: Int
    let context: ForwardContext

    /// Where this block's parameters start in the store (norm1 is registered first).
    var firstParameterOffset: Int { norm1.weightOffset }

    public init(_ store: ParameterStore, _ context: ForwardContext, name: String,
                cin: Int, cout: Int, temb: Int, groups: Int, eps: Float) {
        self.cout = cout
        self.context = context
        norm1 = GroupNorm(store, context, name: name + ".norm1", channels: cin, groups: groups, eps: eps, fusedSiLU: true)
        conv1 = Conv2DLayer(store, context, name: name + ".conv1", cin: cin, cout: cout, k: 3)
        timeProj = Linear(store, context, name: name + ".time_emb_proj", in: temb, out: cout)
        norm2 = GroupNorm(store, context, name: name + ".norm2", channels: cout, groups: groups, eps: eps, fusedSiLU: true)
        conv2 = Conv2DLayer(store, context, name: name + ".conv2", cin: cout, cout: cout, k: 3)
        shortcut = cin == cout ? nil : Conv2DLayer(store, context, name: name + ".conv_shortcut", cin: cin, cout: cout, k: 1)
    }

    func initialize(_ rng: inout RandomStream) {
        norm1.initialize(); norm2.initialize()
        conv1.initialize(&rng); timeProj.initialize(&rng); conv2.initialize(&rng)
        shortcut?.initialize(&rng)
    }

    /// The parts of the concatenated input, kept for backward in place of it (`forward(_:concatenatedWith:tembAct:)`).
    private var concatParts: (main: Tensor, skip: Tensor)?

    /// forward([main, skip] concatenated along channels): an up-block resnet. For backward it
    /// keeps the two parts instead of their concatenation, which would hold a second copy of
    /// the skip (the down path keeps the skip anyway): seed preset, batch 128, 80 MiB less.
    /// Backward concatenates them again, once for norm1 and the shortcut.
    /// With bf16 activations nothing of the input is kept: norm1 keeps its bf16 xhat, from which
    /// the shortcut's input is rebuilt.
    public func forward(_ main: Tensor, concatenatedWith skip: Tensor, tembAct: Tensor) -> Tensor {
        let y = forward(ChannelConcat.forward(main, skip), tembAct: tembAct)
        if context.recordsForBackward && !context.bf16Activations {
            norm1.recordInput(nil)
            shortcut?.recordInput(nil)
            concatParts = (main, skip)
        }
        return y
    }

    public func forward(_ x: Tensor, tembAct: Tensor) -> Tensor {
        concatParts = nil
        let proj = timeProj.forward(tembAct)
        let h = conv1.forward(normalized: x, by: norm1, imageBias: proj)
        let skip = shortcut?.forward(x) ?? x
        if let shortcut, context.bf16Activations, context.recordsForBackward {
            // norm1 keeps x as its bf16 xhat; the shortcut's weight gradient reads x rebuilt from it.
            shortcut.recordInput(from: { [norm1] in norm1.reconstructedInputBF16() })
        }
        return conv2.forward(normalized: h, by: norm2, residual: skip)
    }

    /// Returns dx; adds this block's share of d(tembAct) into `dTembAct`.
    public func backward(_ dy: Tensor, dTembAct: Tensor) -> Tensor {
        let dh = norm2.backward(conv2.backward(dy))
        // d(proj)[n, c] = sum over image n's pixels of dh
        let n = dh.shape[0], pixels = dh.count / (n * cout), c = cout
        let dproj = Tensor(uninitialized: [n, c])
        Parallel.forEach(n) { b in
            dproj.data.advanced(by: b * c).update(repeating: 0, count: c)
            GEMM.columnSums(rows: pixels, cols: c, x: dh.data + b * pixels * c, into: dproj.data + b * c)
        }
        dTembAct.add(timeProj.backward(dproj))
        if let (main, skip) = concatParts {
            let x = ChannelConcat.forward(main, skip)
            norm1.recordInput(x)
            shortcut?.recordInput(x)
            concatParts = nil
        }
        // conv1's input gradient before the shortcut's, so that the transients of one are gone
        // before the other's are made; norm1 then turns it into dx where it lies.
        let dNorm1 = conv1.backward(dh)
        let dSkip = shortcut?.backward(dy) ?? dy
        return norm1.backward(consume dNorm1, adding: dSkip)
    }
}
