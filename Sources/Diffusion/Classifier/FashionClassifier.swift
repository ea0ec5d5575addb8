/// A small Fashion-MNIST classifier whose pooled features serve FID and KID (the role
/// Inception-v3's pool3 plays for natural images).
///
///   x: [N, 32, 32, 1] in [-0.5, 0.5] (the diffusion model's images)
///   stage s (resolution 32 / 2^s): blocksPerStage[s] x [conv3x3 -> GroupNorm + SiLU],
///                                  the first conv of every stage after the first with stride 2
///   features = global average pool of the last stage: [N, channels.last]
///   logits   = Linear(channels.last, numClasses)(features): [N, numClasses]
///
/// Parameters (PyTorch names, one `ParameterStore`): `blocks.{i}.conv`, `blocks.{i}.norm`
/// for the blocks in order, and `fc`.
public final class FashionClassifier {
    public let config: ClassifierConfig
    public let store = ParameterStore()
    public let context = ForwardContext()

    struct Block {
        let conv: Conv2DLayer
        let norm: GroupNorm
    }
    let blocks: [Block]
    let fc: Linear

    /// Spatial size of the last stage, kept for the pooling's backward.
    private var pooledFrom: (height: Int, width: Int)?

    public init(config: ClassifierConfig) {
        self.config = config
        var blocks: [Block] = []
        var cin = config.inChannels
        for (stage, cout) in config.channels.enumerated() {
            for j in 0..<config.blocksPerStage[stage] {
                let name = "blocks.\(blocks.count)"
                let stride = stage > 0 && j == 0 ? 2 : 1
                blocks.append(Block(
                    conv: Conv2DLayer(store, context, name: name + ".conv", cin: cin, cout: cout, k: 3, stride: stride),
                    norm: GroupNorm(store, context, name: name + ".norm", channels: cout, groups: config.normNumGroups,
                                    eps: Float(config.normEps), fusedSiLU: true)))
                cin = cout
            }
        }
        self.blocks = blocks
        fc = Linear(store, context, name: "fc", in: cin, out: config.numClasses)
        store.allocate()
    }

    /// PyTorch's default initialisation, from `seed`.
    public func initializeParameters(seed: UInt64) {
        var rng = RandomStream(seed: seed, key: 0xC1A5)
        for b in blocks { b.conv.initialize(&rng); b.norm.initialize() }
        fc.initialize(&rng)
    }

    public var featureDimension: Int { config.featureDimension }

    /// Logits and pooled features of a batch. With `recordForBackward`, keeps what
    /// `backward` needs.
    public func forward(_ x: Tensor, recordForBackward: Bool = false) -> (logits: Tensor, features: Tensor) {
        let s = config.imageSize
        precondition(x.shape == [x.shape.first ?? 0, s, s, config.inChannels],
                     "classifier expects [N,\(s),\(s),\(config.inChannels)], got \(x.shape)")
        context.recordsForBackward = recordForBackward
        var h = x
        for b in blocks { h = b.norm.forward(b.conv.forward(h)) }
        pooledFrom = recordForBackward ? (h.shape[1], h.shape[2]) : nil
        let features = GlobalAveragePool.forward(h)
        return (fc.forward(features), features)
    }

    /// Accumulates parameter gradients into `store.grads` for d(loss)/d(logits) = `dLogits`.
    public func backward(_ dLogits: Tensor) {
        guard let size = pooledFrom else { preconditionFailure("classifier backward without a recorded forward") }
        pooledFrom = nil
        var dh = GlobalAveragePool.backward(fc.backward(dLogits), height: size.height, width: size.width)
        for b in blocks.dropFirst().reversed() { dh = b.conv.backward(b.norm.backward(dh)) }
        // The image itself needs no gradient.
        if let first = blocks.first { first.conv.backwardParametersOnly(first.norm.backward(dh)) }
    }

    /// Features and logits of many images ([n, H, W, C]), `batchSize` at a time, nothing kept
    /// for backward: features [n, d], logits [n, numClasses].
    public func evaluate(_ images: Tensor, batchSize: Int = 256) -> (features: Tensor, logits: Tensor) {
        precondition(batchSize >= 1, "batch size must be positive")
        let n = images.shape[0], d = featureDimension, k = config.numClasses
        let features = Tensor(uninitialized: [n, d]), logits = Tensor(uninitialized: [n, k])
        var start = 0
        while start < n {
            let count = min(batchSize, n - start)
            let batch = images.gather(Array(start..<(start + count)))
            let out = forward(batch)
            (features.data + start * d).update(from: out.features.data, count: count * d)
            (logits.data + start * k).update(from: out.logits.data, count: count * k)
            start += count
        }
        return (features, logits)
    }
}
