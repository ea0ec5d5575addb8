/// Why a U-Net config.json (or a config built in code) cannot be used: which file, which key,
/// the value found and what is supported.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case io
        case notJSON
        case missingKey
        case duplicateKey
        /// A key diffusers' UNet2DModel does not take.
        case unknownKey
        /// A value of the wrong type, or a feature this implementation does not have.
        case unsupportedValue
        /// Values that contradict each other (list lengths, divisibility).
        case inconsistent
    }

    public let kind: Kind
    public let path: String
    /// The key at fault (for inconsistencies, the one the message is about).
    public let key: String?
    public let found: String
    public let expected: String

    public init(_ kind: Kind, path: String, key: String? = nil, found: String, expected: String) {
        self.kind = kind
        self.path = path
        self.key = key
        self.found = found
        self.expected = expected
    }

    public var description: String {
        let subject = key.map { "\(path): \"\($0)\"" } ?? path
        switch kind {
        case .io, .notJSON: return "\(subject): \(found); expected \(expected)"
        case .missingKey: return "\(subject) is missing; expected \(expected)"
        case .duplicateKey: return "\(subject) appears \(found); expected \(expected)"
        case .unknownKey: return "\(subject) is not a UNet2DModel argument (value \(found)); expected one of \(expected)"
        case .unsupportedValue: return "\(subject) is \(found); supported: \(expected)"
        case .inconsistent: return "\(subject): \(found); expected \(expected)"
        }
    }
}
