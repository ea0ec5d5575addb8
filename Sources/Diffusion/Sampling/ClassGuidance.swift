/// Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", eq. 6 in
/// the form diffusers uses): with eps_c the noise prediction for image i's class and eps_u the
/// one for the null class,
///
///     eps = eps_u + w (eps_c - eps_u)
///
/// w = 0 is the unconditional model, w = 1 the conditional one, w > 1 pushes the samples
/// towards what the class explains (the paper's guidance strength is w - 1). It wraps the
/// model's noise prediction, so every sampler takes it unchanged. Both predictions come from
/// ONE model call on a batch of 2B ([x; x] with [classes; null]); at w = 0 and w = 1 the
/// formula needs only one of them, and one call of B is made.
///
/// Image i's class is `labels[i]`, by its global index, so the images do not depend on the
/// rank count (their noise streams do not either).
public struct ClassGuidance: Equatable, Sendable {
    /// The class of every image of the run, by global index.
    public let labels: [Int]
    /// w.
    public let scale: Double
    /// The class index the model learnt as "no class" (the last row of its table).
    public let nullClass: Int

    /// `--guidance-scale` when not given: the paper's guidance strength 1 (w = 2), in the middle
    /// of the range where its accuracy-like scores rise while FID has not yet worsened much
    /// (its Figure 4 / Table 1 region); docs/conditional.md says how to measure it on a model.
    public static let defaultScale = 2.0

    /// The largest guidance scale accepted.
    public static let maxScale = 100.0

    public init(labels: [Int], scale: Double, nullClass: Int) throws {
        try OptionCheck.number(scale, "--guidance-scale", 0, Self.maxScale)
        if let bad = labels.first(where: { !(0..<nullClass).contains($0) }) {
            throw SamplingError.unknownClass("\(bad)", classes: nullClass)
        }
        self.labels = labels; self.scale = scale; self.nullClass = nullClass
    }

    /// `choice` for the n images of a run of a model with `classes` classes (see `ClassChoice.labels`).
    public init(choice: ClassChoice, count n: Int, scale: Double, classes: Int) throws {
        try self.init(labels: try choice.labels(count: n, classes: classes), scale: scale, nullClass: classes)
    }

    /// How a run that asks for no class draws a model: every class alike at the default scale,
    /// `count` rounded down to whole rows of classes (one row at least), or the plain sampler
    /// for an unconditional model.
    public static func everyClass(of config: UNetConfig, count: Int) throws -> (count: Int, guidance: ClassGuidance?) {
        guard let classes = config.guidanceClasses else { return (count, nil) }
        let rounded = max(classes, count / classes * classes)
        return (rounded, try ClassGuidance(choice: .all, count: rounded, scale: defaultScale, classes: classes))
    }

    /// Images per model call for each sampled image: 2 when both predictions are needed.
    public var passes: Int { scale == 0 || scale == 1 ? 1 : 2 }

    /// The guided noise prediction of `model` for the local images whose classes are `localLabels`.
    public func denoiser(_ model: UNet2DModel, localLabels: [Int]) -> DenoisingModel {
        let (w, null) = (Float(scale), nullClass)
        return { x, t in
            let b = x.shape[0]
            let timesteps = t.map { Float($0) }
            let nulls = [Int](repeating: null, count: b)
            switch w {
            case 1: return try model.forward(x, timesteps: timesteps, classLabels: localLabels)
            case 0: return try model.forward(x, timesteps: timesteps, classLabels: nulls)
            default:
                let count = x.count
                let both = Tensor(uninitialized: [2 * b] + x.shape.dropFirst())
                both.data.update(from: x.data, count: count)
                (both.data + count).update(from: x.data, count: count)
                let out = try model.forward(both, timesteps: timesteps + timesteps, classLabels: localLabels + nulls)
                let eps = Tensor(uninitialized: x.shape)
                for i in 0..<count {
                    let conditional = out[i], unconditional = out[count + i]
                    eps[i] = unconditional + w * (conditional - unconditional)
                }
                return eps
            }
        }
    }

    /// A class-conditional model must be sampled with classes and an unconditional one without:
    /// the error says which option to give or drop.
    public static func check(_ guidance: ClassGuidance?, for config: UNetConfig, images n: Int) throws {
        switch (config.guidanceClasses, guidance) {
        case (nil, nil): return
        case (nil, _?): throw SamplingError.classNotSupported
        case (let classes?, nil): throw SamplingError.classRequired(classes: classes)
        case (let classes?, let guidance?):
            guard guidance.nullClass == classes else { throw SamplingError.classRequired(classes: classes) }
            guard guidance.labels.count == n else {
                throw SamplingError.classLabelCount(labels: guidance.labels.count, images: n)
            }
        }
    }
}

extension UNetConfig {
    /// The classes a guided sampler can ask for: num_class_embeds - 1, the last row being the
    /// null class (the layout `train --conditional` writes); nil for an unconditional model.
    public var guidanceClasses: Int? {
        guard let rows = numClassEmbeds, rows >= 2 else { return nil }
        return rows - 1
    }
}
