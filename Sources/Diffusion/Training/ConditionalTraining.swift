/// Class-conditional training for classifier-free guidance (Ho & Salimans 2022, "Classifier-Free
/// Diffusion Guidance", Algorithm 1): the model sees each image's class, except that with
/// probability `labelDropout` the class is replaced by the null class, so one network learns
/// both the conditional and the unconditional noise prediction.
///
/// Classes 0..<K are the data set's labels and K is the null class, so the model's table has
/// num_class_embeds = K + 1 rows (11 for Fashion-MNIST). The dropout draw of the sample at
/// position j of global step s comes from stream (seed ^ salt, s * batch + j), like its noise
/// and timestep: it does not depend on the rank count, and a resumed run draws the same.
public enum ConditionalTraining {
    /// The probability of training on the null class when `--label-dropout` is not given.
    public static let defaultLabelDropout = 0.1

    /// Keeps the dropout draws apart from the noise streams (same keys, another seed).
    static let dropoutSeedSalt: UInt64 = 0x5A5A_0000_0C1A

    /// The label sample (seed, key) trains with: `label`, or `nullClass` with probability `dropout`.
    public static func trainingLabel(_ label: Int, seed: UInt64, key: UInt64, dropout: Double, nullClass: Int) -> Int {
        guard dropout > 0 else { return label }
        var rng = RandomStream(seed: seed ^ dropoutSeedSalt, key: key)
        return rng.uniform() < dropout ? nullClass : label
    }
}

extension TrainingOptions {
    /// K, the data set's classes, for a conditional run; nil for an unconditional one.
    public var conditioningClasses: Int? { conditional == true ? classCount : nil }

    /// `base` (a preset or config.json) as this run trains it: a conditional run adds the
    /// class table of K + 1 rows (num_class_embeds, class_embed_type null). A config that
    /// already has a class embedding must be that one, and only a conditional run takes it.
    public func modelConfig(for base: UNetConfig, source: String) throws -> UNetConfig {
        var config = base
        if let k = conditioningClasses, base.classEmbedType == nil, base.numClassEmbeds == nil {
            config.numClassEmbeds = k + 1
        }
        try checkConditioning(config, source: source)
        return config
    }

    /// The model config agrees with the options: a class table of K + 1 rows for a conditional
    /// run, no class embedding for an unconditional one. `source` names the config in errors.
    public func checkConditioning(_ config: UNetConfig, source: String) throws {
        if let k = conditioningClasses {
            guard config.classEmbedType == nil, config.numClassEmbeds == k + 1 else {
                throw ConfigError(.inconsistent, path: source, key: config.classEmbedType == nil ? "num_class_embeds" : "class_embed_type",
                                  found: "class_embed_type \(config.classEmbedType.map { "\"\($0.rawValue)\"" } ?? "null"), "
                                      + "num_class_embeds \(config.numClassEmbeds.map(String.init) ?? "null") for a conditional run on \(k) classes",
                                  expected: "class_embed_type null and num_class_embeds \(k + 1) (the \(k) classes and the null class), "
                                      + "or no class embedding (--conditional adds it)")
            }
        } else if config.classEmbedType != nil || config.numClassEmbeds != nil {
            throw ConfigError(.inconsistent, path: source, key: config.classEmbedType != nil ? "class_embed_type" : "num_class_embeds",
                              found: "a class embedding in an unconditional run",
                              expected: "--conditional to train a class-conditional model, or a config without class embedding")
        }
    }
}
