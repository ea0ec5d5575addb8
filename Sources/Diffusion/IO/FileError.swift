/// A file that could not be read, written or understood: which file, and what was wrong
/// (for a format error, what was expected and what was found).
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
