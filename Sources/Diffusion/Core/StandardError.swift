import Foundation

/// Writes to standard error without trapping: `FileHandle.write(_: Data)` crashes the process
/// when the write fails (a full disk behind a redirected stderr, a closed pipe); a message
/// that cannot be written is dropped instead.
public enum StandardError {
    public static func write(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}
