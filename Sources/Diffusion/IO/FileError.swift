import Foundation

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

extension FileError {
    /// `mkdir -p path`, failing with the folder that could not be made and the system's
    /// reason ("/x/cache: cannot create the folder (File exists)") rather than Foundation's
    /// error dump.
    public static func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            let e = error as NSError
            // Foundation on Linux keeps the system's errno as a POSIXError under the underlying key.
            let posix = e.userInfo[NSUnderlyingErrorKey] as? POSIXError
            let reason = posix.map { String(cString: strerror($0.code.rawValue)) } ?? e.localizedDescription
            throw FileError(path: e.userInfo[NSFilePathErrorKey] as? String ?? path, "cannot create the folder (\(reason))")
        }
    }
}
