/// What `launcher fid --samples` compares with the reference images: a file of images or of
/// their statistics, or real Fashion-MNIST images (the floor a generator can reach).
public enum SampleSource: Equatable, Sendable, CustomStringConvertible {
    /// A .npy of images in [-0.5, 0.5], or a pytorch-fid statistics .npz (mu, sigma).
    case file(String)
    /// The real images of a split, spelled `real:train` or `real:test`.
    case real(FashionMNIST.Split)

    public static let realPrefix = "real:"

    /// `real:train`, `real:test`: the spellings of `.real`.
    public static var realSpellings: [String] { FashionMNIST.Split.allCases.map { realPrefix + $0.rawValue } }

    /// A refused `--samples` value, with what is allowed.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let text: String
        public var description: String {
            "expected a .npy of images, a .npz of statistics, or one of \(SampleSource.realSpellings.joined(separator: ", ")); "
                + "got '\(text)'"
        }
    }

    /// A path, or `real:` and a split's name.
    public init(parsing text: String) throws {
        if text.hasPrefix(Self.realPrefix) {
            guard let split = FashionMNIST.Split(rawValue: String(text.dropFirst(Self.realPrefix.count))) else {
                throw ParseError(text: text)
            }
            self = .real(split)
        } else {
            guard !text.isEmpty else { throw ParseError(text: text) }
            self = .file(text)
        }
    }

    /// A statistics file (.npz): FID only, and no images to write statistics of.
    public var isStatistics: Bool {
        if case .file(let path) = self { return path.hasSuffix(".npz") }
        return false
    }

    /// As it was typed: the path, or `real:<split>`.
    public var description: String {
        switch self {
        case .file(let path): return path
        case .real(let split): return Self.realPrefix + split.rawValue
        }
    }
}
