#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic whole-file writes, with the system's reason on failure.
/// The file formats wrap `FileBytes.Failure` into their own error types.
enum FileBytes {
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let operation: String
        let reason: String
        var description: String { "\(operation) \(path): \(reason)" }
    }

    private static func failure(_ path: String, _ operation: String) -> Failure {
        Failure(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure(path, "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, "cannot stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(path: path, operation: "cannot read", reason: "not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < buffer.count {
                let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure(path, "cannot read")
                }
                if n == 0 { break }  // the file shrank while we read it
                done += n
            }
        }
        if done < bytes.count { bytes.removeLast(bytes.count - done) }
        return bytes
    }

    /// Writes to a temporary file in the same directory, flushes it, then renames it over
    /// `path`, so a reader (or a crash) never sees a half-written file.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(base).tmp.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure(path, "cannot create a temporary file for") }
        let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = false
        defer { if !ok { unlink(tempPath) } }
        do {
            defer { close(fd) }
            var done = 0
            try bytes.withUnsafeBytes { buffer in
                while done < buffer.count {
                    let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw failure(path, "cannot write")
                    }
                    done += n
                }
            }
            guard fchmod(fd, 0o644) == 0, fsync(fd) == 0 else { throw failure(path, "cannot flush") }
        }
        guard rename(tempPath, path) == 0 else { throw failure(path, "cannot rename the temporary file to") }
        ok = true
    }
}
