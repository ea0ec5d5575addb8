import Foundation
import Testing
@testable import Diffusion

@Suite struct UNetConfigTests {
    @Test func presetsAreValidAndHaveTheRecipeSizes() throws {
        for (name, config) in UNetConfig.presets { try config.validate(path: "<\(name)>") }
        #expect(UNetConfig.seed.parameterCount == 15_890_753)
        #expect(UNetConfig.small.parameterCount == 3_983_009)
        #expect(UNetConfig.tiny.parameterCount == 109_185)
        #expect(UNetConfig.preset("small") == .small)
        #expect(UNetConfig.preset("large") == nil)
        #expect(UNetConfig() == .seed)
        #expect(UNetConfig.seed.timeEmbeddingChannels == 128)
    }

    /// Line for line against diffusers' `state_dict()` of the seed model.
    @Test func seedParameterListEqualsTheReference() throws {
        let text = String(decoding: try FileBytes.read(PackageFixtures.path("unet_seed_parameters.txt")), as: UTF8.self)
        let reference = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        let ours = UNetConfig.seed.parameterSpecs.map(\.description)
        #expect(ours.count == reference.count)
        for (i, (a, b)) in zip(ours, reference).enumerated() where a != b {
            Issue.record("line \(i): ours \(a), reference \(b)")
            break
        }
        #expect(ours == reference)
    }

    /// Against the tensors diffusers saved for the tiny fixture.
    @Test func tinyParameterListEqualsTheFixture() throws {
        let file = try Safetensors(contentsOf: PackageFixtures.tinyModel)
        let fixture = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.shape) })
        let ours = UNetConfig.tiny.parameterSpecs
        #expect(Set(ours.map(\.name)).count == ours.count)
        #expect(ours.count == fixture.count)
        for spec in ours { #expect(fixture[spec.name] == spec.shape, "\(spec)") }
    }

    @Test func tinyPresetIsTheFixtureConfig() throws {
        #expect(try UNetConfig.load(contentsOf: PackageFixtures.tinyConfig) == .tiny)
        // Written exactly as diffusers writes it.
        let fixture = String(decoding: try FileBytes.read(PackageFixtures.tinyConfig), as: UTF8.self)
        #expect(UNetConfig.tiny.toJSON() == fixture)
    }

    @Test func presetsRoundTripThroughJSON() throws {
        for (name, config) in UNetConfig.presets {
            let back = try UNetConfig(json: Array(config.toJSON().utf8), path: name)
            #expect(back == config, "\(name)")
        }
        var odd = UNetConfig.tiny
        odd.addAttention = false
        odd.flipSinToCos = false
        odd.freqShift = 1
        odd.normEps = 1e-6
        odd.layersPerBlock = 1
        odd.inChannels = 3
        #expect(try UNetConfig(json: Array(odd.toJSON().utf8), path: "odd") == odd)
        #expect(odd.toJSON().contains("\"norm_eps\": 1e-06,"))
    }

    @Test func writesAtomically() throws {
        let dir = try SafetensorsRoundTripTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/config.json"
        try UNetConfig.small.write(to: path)
        #expect(try UNetConfig.load(contentsOf: path) == .small)
        let error = #expect(throws: ConfigError.self) { try UNetConfig.load(contentsOf: dir + "/missing.json") }
        #expect(error?.kind == .io)
    }

    /// A key missing from the file takes diffusers' `__init__` default.
    @Test func missingKeysTakeDiffusersDefaults() throws {
        let config = try UNetConfig(json: Array("{\"sample_size\": 32}".utf8), path: "minimal")
        var expected = UNetConfig.diffusersDefaults
        expected.sampleSize = 32
        #expect(config == expected)
        #expect(config.blockOutChannels == [224, 448, 672, 896])
        #expect(config.normNumGroups == 32 && config.inChannels == 3)
    }

    // MARK: - Channel plans

    @Test func seedPlans() {
        let c = UNetConfig.seed
        #expect(c.downPlan.map(\.inChannels) == [32, 32, 64, 128])
        #expect(c.downPlan.map(\.hasDownsample) == [true, true, true, false])
        #expect(c.downPlan.map { $0.attention?.heads } == [nil, 8, 16, 32])
        #expect(c.midPlan.attention == AttentionPlan(channels: 256, heads: 32, headDim: 8))
        let up = c.upPlan
        #expect(up.map(\.prevOutputChannels) == [256, 256, 128, 64])
        #expect(up.map(\.inChannels) == [128, 64, 32, 32])
        #expect(up.map { $0.resnets.map(\.concatChannels) } == [[512, 512, 384], [384, 256, 192], [192, 128, 96], [96, 64, 64]])
        #expect(up.map(\.hasUpsample) == [true, true, true, false])
        #expect(up.map { $0.attention != nil } == [true, true, true, false])
    }

    /// Up block resnets take the skips in exactly the order the down path pushed them, reversed.
    @Test func upPathConsumesTheSkipStack() {
        for config in UNetConfig.presets.values {
            let stack = config.skipChannels
            #expect(stack.count == config.blockCount * config.layersPerBlock + config.blockCount)
            let popped = config.upPlan.flatMap { $0.resnets.map(\.skipChannels) }
            #expect(popped == Array(stack.reversed()))
        }
    }

    // MARK: - Refusals

    /// The tiny fixture's JSON with one key's value replaced (or added, or removed when nil).
    static func tinyJSON(_ key: String, _ valueText: String?) throws -> [UInt8] {
        guard case .object(var members) = try JSONParser.parse(Array(UNetConfig.tiny.toJSON().utf8)) else {
            fatalError("config.json is an object")
        }
        members.removeAll { $0.key == key }
        if let valueText { members.append(JSONMember(key: key, value: try JSONParser.parse(Array(valueText.utf8)))) }
        return Array(JSONValue.object(members).compactText().utf8)
    }

    static func refusal(_ key: String, _ valueText: String?, sourceLocation: SourceLocation = #_sourceLocation) throws -> ConfigError? {
        let json = try tinyJSON(key, valueText)
        let error = #expect(throws: ConfigError.self, "\(key) = \(valueText ?? "absent")", sourceLocation: sourceLocation) {
            try UNetConfig(json: json, path: "/ckpt/config.json")
        }
        if let error {
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("/ckpt/config.json: \"\(key)\""), "\(error)", sourceLocation: sourceLocation)
        }
        return error
    }

    @Test func unsupportedFeaturesAreRefusedByKey() throws {
        let cases: [(String, String)] = [
            ("act_fn", "\"gelu\""), ("attn_norm_num_groups", "4"), ("center_input_sample", "true"),
            ("class_embed_type", "\"identity\""), ("downsample_padding", "0"), ("downsample_type", "\"resnet\""),
            ("dropout", "0.1"), ("mid_block_scale_factor", "1.414"), ("mid_block_type", "null"),
            ("num_class_embeds", "0"), ("num_train_timesteps", "1000"), ("resnet_time_scale_shift", "\"scale_shift\""),
            ("time_embedding_dim", "64"), ("time_embedding_type", "\"fourier\""), ("upsample_type", "\"resnet\""),
            ("down_block_types", "[\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"AttnDownBlock2D\"]"),
            ("up_block_types", "[\"AttnUpBlock2D\", \"AttnSkipUpBlock2D\", \"UpBlock2D\"]"),
            ("attention_head_dim", "null"), ("sample_size", "[16, 16]"), ("_class_name", "\"UNet2DConditionModel\""),
        ]
        for (key, value) in cases {
            let error = try Self.refusal(key, value)
            #expect(error?.kind == .unsupportedValue)
            #expect(error?.found == value.replacingOccurrences(of: ", ", with: ","), "\(String(describing: error))")
            #expect(error?.description.contains("supported:") == true)
        }
        #expect(try Self.refusal("act_fn", "\"gelu\"")?.expected == "\"silu\"")
    }

    @Test func wrongTypesAreRefused() throws {
        for (key, value) in [("layers_per_block", "2.0"), ("add_attention", "1"), ("in_channels", "\"1\""),
                             ("block_out_channels", "[8]"), ("block_out_channels", "[8, -16]"), ("norm_eps", "0"),
                             ("norm_eps", "\"1e-5\""), ("flip_sin_to_cos", "null"), ("freq_shift", "0.5"),
                             ("attention_head_dim", "0"), ("down_block_types", "\"DownBlock2D\"")] {
            #expect(try Self.refusal(key, value)?.kind == .unsupportedValue)
        }
    }

    @Test func inconsistentNumbersAreRefused() throws {
        #expect(try Self.refusal("down_block_types", "[\"DownBlock2D\", \"AttnDownBlock2D\"]")?.kind == .inconsistent)
        #expect(try Self.refusal("up_block_types", "[\"UpBlock2D\"]")?.kind == .inconsistent)
        let groups = try Self.refusal("norm_num_groups", "3")
        #expect(groups?.kind == .inconsistent)
        #expect(groups?.description.contains("does not divide 8") == true)
        let heads = try Self.refusal("attention_head_dim", "32")
        #expect(heads?.kind == .inconsistent)
        #expect(heads?.description.contains("16 channels") == true)
        #expect(try Self.refusal("sample_size", "18")?.kind == .inconsistent)
        #expect(try Self.refusal("layers_per_block", "0")?.kind == .unsupportedValue)
        #expect(try Self.refusal("freq_shift", "4")?.kind == .unsupportedValue)
    }

    @Test func unknownMissingAndDuplicateKeys() throws {
        let unknown = try Self.refusal("resnet_skip_time_act", "true")
        #expect(unknown?.kind == .unknownKey)
        #expect(unknown?.description.contains("block_out_channels") == true)
        #expect(try Self.refusal("sample_size", nil)?.kind == .missingKey)

        let duplicated = Array("{\"sample_size\": 16, \"sample_size\": 32}".utf8)
        let error = #expect(throws: ConfigError.self) { try UNetConfig(json: duplicated, path: "dup.json") }
        #expect(error?.kind == .duplicateKey)
        #expect(error?.key == "sample_size")

        let notJSON = #expect(throws: ConfigError.self) { try UNetConfig(json: Array("{\"a\": }".utf8), path: "x.json") }
        #expect(notJSON?.kind == .notJSON)
        // Bookkeeping keys are ignored.
        #expect(try UNetConfig(json: try Self.tinyJSON("_name_or_path", "\"somewhere\""), path: "meta") == .tiny)
    }

    @Test func configsBuiltInCodeAreValidatedToo() {
        var c = UNetConfig.small
        c.normNumGroups = 5
        let error = #expect(throws: ConfigError.self) { try c.validate(path: "<small>") }
        #expect(error?.key == "norm_num_groups")
        #expect(error?.path == "<small>")
    }
}
