/// config.json in and out, as diffusers writes it (`json.dumps(config, indent=2,
/// sort_keys=True) + "\n"`, every `UNet2DModel.__init__` argument plus `_class_name` and
/// `_diffusers_version`).
///
/// Reading follows diffusers: a missing key takes the `__init__` default; keys starting with
/// "_" are bookkeeping (only `_class_name` is checked). Unlike diffusers, which warns and
/// ignores unknown keys, an unknown key is an error: it may ask for something we would
/// silently not do. Each key has one rule below; a value outside it is a `ConfigError`
/// naming the key, the value and what is supported.
extension UNetConfig {
    public static let className = "UNet2DModel"
    public static let diffusersVersion = "0.42.1"

    public static func load(contentsOf path: String) throws -> UNetConfig {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch let failure as FileError {
            throw ConfigError(.io, path: path, found: failure.message,
                              expected: "a readable config.json")
        }
        return try UNetConfig(json: bytes, path: path)
    }

    /// Parses config.json text; `path` is only used in error messages.
    public init(json bytes: [UInt8], path: String) throws {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch let error as JSONSyntaxError {
            throw ConfigError(.notJSON, path: path, found: error.description, expected: "a JSON object")
        }
        guard case .object(let members) = value else {
            throw ConfigError(.notJSON, path: path, found: value.snippet, expected: "a JSON object")
        }

        var config = UNetConfig.diffusersDefaults
        var seen = Set<String>()
        for m in members {
            guard seen.insert(m.key).inserted else {
                throw ConfigError(.duplicateKey, path: path, key: m.key, found: "more than once", expected: "each key once")
            }
            if m.key.hasPrefix("_") {
                if m.key == "_class_name", m.value != .string(Self.className) {
                    throw ConfigError(.unsupportedValue, path: path, key: m.key, found: m.value.snippet,
                                      expected: "\"\(Self.className)\"")
                }
                continue
            }
            guard let rule = Self.keyRules.first(where: { $0.key == m.key }) else {
                throw ConfigError(.unknownKey, path: path, key: m.key, found: m.value.snippet,
                                  expected: Self.keyRules.map(\.key).joined(separator: ", "))
            }
            guard rule.read(&config, m.value) else {
                throw ConfigError(.unsupportedValue, path: path, key: m.key, found: m.value.snippet, expected: rule.expected)
            }
        }
        // diffusers' default for sample_size is None, which we cannot use: the sampler needs the size.
        guard seen.contains("sample_size") else {
            throw ConfigError(.missingKey, path: path, key: "sample_size", found: "absent", expected: "the image size (an integer)")
        }
        try config.validate(path: path)
        self = config
    }

    /// config.json text that diffusers' `UNet2DModel.from_pretrained` loads as this model.
    public func toJSON() -> String {
        var members = [
            JSONMember(key: "_class_name", value: .string(Self.className)),
            JSONMember(key: "_diffusers_version", value: .string(Self.diffusersVersion)),
        ]
        members += Self.keyRules.map { JSONMember(key: $0.key, value: $0.write(self)) }
        members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return JSONValue.object(members).pythonIndentedText() + "\n"
    }

    /// Writes config.json atomically.
    public func write(to path: String) throws {
        do {
            try FileBytes.writeAtomically(Array(toJSON().utf8), to: path)
        } catch let failure as FileError {
            throw ConfigError(.io, path: path, found: failure.message,
                              expected: "a writable location")
        }
    }

    /// diffusers' `UNet2DModel.__init__` defaults (sample_size None has no equivalent: 0 here,
    /// and a file must give it).
    static let diffusersDefaults = UNetConfig(
        sampleSize: 0, blockOutChannels: [224, 448, 672, 896],
        downBlockTypes: [.down, .attnDown, .attnDown, .attnDown],
        upBlockTypes: [.attnUp, .attnUp, .attnUp, .up])
}

// MARK: - One rule per UNet2DModel.__init__ argument

extension UNetConfig {
    /// Bounds on sizes read from a file: far beyond any model this code trains, and small
    /// enough that parameter counts computed from them cannot overflow.
    public static let maxChannels = 1 << 16
    public static let maxLevels = 16
    public static let maxLayersPerBlock = 64
    public static let maxSampleSize = 1 << 15
    public static let maxClassEmbeds = 1 << 16
}

/// How one config key is read (false: value not supported) and written.
struct ConfigKeyRule {
    let key: String
    /// What is supported, for error messages.
    let expected: String
    let read: (inout UNetConfig, JSONValue) -> Bool
    let write: (UNetConfig) -> JSONValue
}

extension UNetConfig {
    /// A key we accept at one setting only (the feature it would switch on is not implemented).
    private static func fixed(_ key: String, _ canonical: JSONValue, _ expected: String,
                              accepts: @escaping (JSONValue) -> Bool) -> ConfigKeyRule {
        ConfigKeyRule(key: key, expected: expected, read: { _, v in accepts(v) }, write: { _ in canonical })
    }

    private static func fixedNull(_ key: String, _ why: String) -> ConfigKeyRule {
        fixed(key, .null, "null (\(why))") { $0 == .null }
    }

    private static func fixedString(_ key: String, _ value: String) -> ConfigKeyRule {
        fixed(key, .string(value), "\"\(value)\"") { $0 == .string(value) }
    }

    private static func int(_ key: String, _ path: WritableKeyPath<UNetConfig, Int>, _ range: ClosedRange<Int>) -> ConfigKeyRule {
        ConfigKeyRule(key: key, expected: "an integer in \(range.lowerBound)...\(range.upperBound)", read: { c, v in
            guard let n = v.intValue, range.contains(n) else { return false }
            c[keyPath: path] = n
            return true
        }, write: { .number(String($0[keyPath: path])) })
    }

    private static func bool(_ key: String, _ path: WritableKeyPath<UNetConfig, Bool>) -> ConfigKeyRule {
        ConfigKeyRule(key: key, expected: "true or false", read: { c, v in
            guard case .bool(let b) = v else { return false }
            c[keyPath: path] = b
            return true
        }, write: { .bool($0[keyPath: path]) })
    }

    private static func blockTypes<T: RawRepresentable & CaseIterable>(
        _ key: String, _ path: WritableKeyPath<UNetConfig, [T]>
    ) -> ConfigKeyRule where T.RawValue == String {
        let names = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        return ConfigKeyRule(key: key, expected: "a list of \(names)", read: { c, v in
            guard case .array(let items) = v else { return false }
            var types: [T] = []
            for item in items {
                guard let s = item.stringValue, let t = T(rawValue: s) else { return false }
                types.append(t)
            }
            c[keyPath: path] = types
            return true
        }, write: { .array($0[keyPath: path].map { .string($0.rawValue) }) })
    }

    /// Built on each use (a few dozen small values, read once per config file): closures over
    /// key paths are not Sendable, so a stored global of them would not be concurrency-safe.
    static var keyRules: [ConfigKeyRule] { [
        fixedString("act_fn", "silu"),
        bool("add_attention", \.addAttention),
        ConfigKeyRule(key: "attention_head_dim",
                      expected: "an integer in 1...\(maxChannels) (null, one head spanning each block, is not supported)", read: { c, v in
            guard let n = v.intValue, (1...maxChannels).contains(n) else { return false }
            c.attentionHeadDim = n
            return true
        }, write: { .number(String($0.attentionHeadDim)) }),
        fixedNull("attn_norm_num_groups", "attention GroupNorms use norm_num_groups"),
        ConfigKeyRule(key: "block_out_channels", expected: "a list of 2 to \(maxLevels) integers in 1...\(maxChannels)", read: { c, v in
            guard case .array(let items) = v, (2...maxLevels).contains(items.count) else { return false }
            let channels = items.compactMap(\.intValue)
            guard channels.count == items.count, channels.allSatisfy({ (1...maxChannels).contains($0) }) else { return false }
            c.blockOutChannels = channels
            return true
        }, write: { .array($0.blockOutChannels.map { .number(String($0)) }) }),
        fixed("center_input_sample", .bool(false), "false") { $0 == .bool(false) },
        ConfigKeyRule(key: "class_embed_type",
                      expected: "null (with num_class_embeds: a learned table) or \"timestep\" (\"identity\" and the projections "
                          + "take embedding vectors, not class labels, and are not supported)", read: { c, v in
            if v == .null { c.classEmbedType = nil; return true }
            guard let s = v.stringValue, let t = ClassEmbedType(rawValue: s) else { return false }
            c.classEmbedType = t
            return true
        }, write: { $0.classEmbedType.map { .string($0.rawValue) } ?? .null }),
        blockTypes("down_block_types", \.downBlockTypes),
        fixed("downsample_padding", .number("1"), "1") { $0.intValue == 1 },
        fixedString("downsample_type", "conv"),
        fixed("dropout", .number("0.0"), "0.0 (no dropout)") { $0.doubleValue == 0 },
        bool("flip_sin_to_cos", \.flipSinToCos),
        int("freq_shift", \.freqShift, -maxChannels...maxChannels),
        int("in_channels", \.inChannels, 1...maxChannels),
        int("layers_per_block", \.layersPerBlock, 1...maxLayersPerBlock),
        fixed("mid_block_scale_factor", .number("1"), "1") { $0.doubleValue == 1 },
        fixedString("mid_block_type", "UNetMidBlock2D"),
        ConfigKeyRule(key: "norm_eps", expected: "a positive number", read: { c, v in
            guard let x = v.doubleValue, x > 0, x.isFinite else { return false }
            c.normEps = x
            return true
        }, write: { .number(String($0.normEps)) }),  // Swift's shortest repr matches Python's (1e-05)
        int("norm_num_groups", \.normNumGroups, 1...maxChannels),
        ConfigKeyRule(key: "num_class_embeds", expected: "null or an integer in 1...\(maxClassEmbeds)", read: { c, v in
            if v == .null { c.numClassEmbeds = nil; return true }
            guard let n = v.intValue, (1...maxClassEmbeds).contains(n) else { return false }
            c.numClassEmbeds = n
            return true
        }, write: { $0.numClassEmbeds.map { .number(String($0)) } ?? .null }),
        fixedNull("num_train_timesteps", "only the \"learned\" time embedding uses it"),
        int("out_channels", \.outChannels, 1...maxChannels),
        fixedString("resnet_time_scale_shift", "default"),
        ConfigKeyRule(key: "sample_size", expected: "an integer in 1...\(maxSampleSize) (square images)", read: { c, v in
            guard let n = v.intValue, (1...maxSampleSize).contains(n) else { return false }
            c.sampleSize = n
            return true
        }, write: { .number(String($0.sampleSize)) }),
        fixedNull("time_embedding_dim", "the time embedding is 4 × block_out_channels[0] wide"),
        fixedString("time_embedding_type", "positional"),
        blockTypes("up_block_types", \.upBlockTypes),
        fixedString("upsample_type", "conv"),
    ] }
}
