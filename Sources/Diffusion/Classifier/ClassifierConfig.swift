/// The shape of a `FashionClassifier`, saved as config.json beside its weights.
///
/// Stage s works at (imageSize / 2^s)² with `channels[s]` channels and has
/// `blocksPerStage[s]` blocks of conv3x3 + GroupNorm + SiLU; the first block of every stage
/// after the first has stride 2. The features are the global average of the last stage
/// (width `channels.last`), followed by one Linear layer to the class logits.
public struct ClassifierConfig: Equatable, Sendable {
    public static let className = "FashionClassifier"

    public var inChannels = 1
    public var imageSize = 32
    public var channels = [32, 64, 128]
    public var blocksPerStage = [1, 2, 2]
    public var normNumGroups = 8
    public var normEps = 1e-5
    public var numClasses = 10

    public init() {}

    /// Parameters of the classifier this config builds: per block a 3x3 conv (weight and
    /// bias) and a GroupNorm (scale and shift), then the Linear head. Within the validated
    /// bounds this cannot overflow.
    public var parameterCount: Int {
        var count = 0, cin = inChannels
        for (cout, blocks) in zip(channels, blocksPerStage) {
            for _ in 0..<blocks {
                count += cin * cout * 9 + cout + 2 * cout
                cin = cout
            }
        }
        return count + cin * numClasses + numClasses
    }

    /// Width of the feature vector (FID/KID statistics are over these).
    public var featureDimension: Int { channels.last ?? 0 }

    /// Checks the values against each other; `path` names the source in errors.
    public func validate(path: String) throws {
        func fail(_ message: String) -> FileError { FileError(path: path, message) }
        // Upper bounds far beyond any classifier here keep every size computed from them in range.
        let maxWidth = UNetConfig.maxChannels
        guard (1...maxWidth).contains(inChannels), (2...maxWidth).contains(numClasses) else {
            throw fail("in_channels is \(inChannels) and num_classes \(numClasses): expected 1...\(maxWidth) and 2...\(maxWidth)")
        }
        guard !channels.isEmpty, channels.count <= UNetConfig.maxLevels, channels.count == blocksPerStage.count else {
            throw fail("channels is \(channels) and blocks_per_stage \(blocksPerStage): expected lists of the same length, "
                       + "1 to \(UNetConfig.maxLevels) stages")
        }
        guard blocksPerStage.allSatisfy({ (1...UNetConfig.maxLayersPerBlock).contains($0) }) else {
            throw fail("blocks_per_stage is \(blocksPerStage): expected 1...\(UNetConfig.maxLayersPerBlock) blocks per stage")
        }
        guard (1...maxWidth).contains(normNumGroups) else {
            throw fail("norm_num_groups is \(normNumGroups): expected 1...\(maxWidth)")
        }
        guard (1...UNetConfig.maxSampleSize).contains(imageSize) else {
            throw fail("image_size is \(imageSize): expected 1...\(UNetConfig.maxSampleSize)")
        }
        for c in channels where c < 1 || c > maxWidth || c % normNumGroups != 0 {
            throw fail("channels is \(channels): expected multiples of norm_num_groups \(normNumGroups) in 1...\(maxWidth)")
        }
        let downsampling = 1 << (channels.count - 1)
        guard imageSize >= downsampling, imageSize % downsampling == 0 else {
            throw fail("image_size is \(imageSize): expected a multiple of 2^\(channels.count - 1) (one halving per stage after the first)")
        }
        guard normEps > 0, normEps.isFinite else { throw fail("norm_eps is \(normEps): expected a positive finite number") }
    }

    // MARK: config.json

    /// config.json text: keys sorted, two-space indent (as diffusers writes its configs).
    public func toJSON() -> String {
        func ints(_ v: [Int]) -> JSONValue { .array(v.map { .number(String($0)) }) }
        var members = [
            JSONMember(key: "_class_name", value: .string(Self.className)),
            JSONMember(key: "blocks_per_stage", value: ints(blocksPerStage)),
            JSONMember(key: "channels", value: ints(channels)),
            JSONMember(key: "image_size", value: .number(String(imageSize))),
            JSONMember(key: "in_channels", value: .number(String(inChannels))),
            JSONMember(key: "norm_eps", value: .number("\(normEps)")),
            JSONMember(key: "norm_num_groups", value: .number(String(normNumGroups))),
            JSONMember(key: "num_classes", value: .number(String(numClasses))),
        ]
        members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return JSONValue.object(members).pythonIndentedText() + "\n"
    }

    /// Parses config.json; a missing key keeps its default, an unknown key is an error.
    public init(json bytes: [UInt8], path: String) throws {
        func fail(_ message: String) -> FileError { FileError(path: path, message) }
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch let error as JSONSyntaxError {
            throw fail("not JSON: \(error.description); expected a JSON object")
        }
        guard case .object(let members) = value else { throw fail("expected a JSON object, found \(value.snippet)") }
        var seen = Set<String>()
        for m in members {
            guard seen.insert(m.key).inserted else { throw fail("key \"\(m.key)\" appears more than once; expected each key once") }
            func int() throws -> Int {
                guard let v = m.value.intValue else { throw fail("\"\(m.key)\" is \(m.value.snippet); expected an integer") }
                return v
            }
            func intList() throws -> [Int] {
                let items: [JSONValue]
                if case .array(let a) = m.value { items = a } else { items = [.null] }
                let v = items.compactMap(\.intValue)
                guard v.count == items.count else { throw fail("\"\(m.key)\" is \(m.value.snippet); expected a list of integers") }
                return v
            }
            switch m.key {
            case "_class_name":
                guard m.value == .string(Self.className) else {
                    throw fail("\"_class_name\" is \(m.value.snippet); expected \"\(Self.className)\"")
                }
            case "in_channels": inChannels = try int()
            case "image_size": imageSize = try int()
            case "num_classes": numClasses = try int()
            case "norm_num_groups": normNumGroups = try int()
            case "channels": channels = try intList()
            case "blocks_per_stage": blocksPerStage = try intList()
            case "norm_eps":
                guard let v = m.value.doubleValue else { throw fail("\"norm_eps\" is \(m.value.snippet); expected a number") }
                normEps = v
            default:
                throw fail("unknown key \"\(m.key)\"; expected blocks_per_stage, channels, image_size, in_channels, "
                           + "norm_eps, norm_num_groups, num_classes")
            }
        }
        try validate(path: path)
    }

    public static func load(contentsOf path: String) throws -> ClassifierConfig {
        try ClassifierConfig(json: FileBytes.read(path), path: path)
    }

    /// Writes config.json atomically.
    public func write(to path: String) throws {
        try FileBytes.writeAtomically(Array(toJSON().utf8), to: path)
    }
}
