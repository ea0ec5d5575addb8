import Foundation

/// Whole-file reads and atomic writes shared by the format writers and readers.
public enum FileBytes {
    /// Reads a whole file.
    public static func read(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FileError(path: path, FileManager.default.fileExists(atPath: path)
                            ? "cannot open for reading" : "no such file")
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.readToEnd() ?? Data())
        } catch {
            throw FileError(path: path, "read failed: \(error)")
        }
    }

    /// Writes `bytes` to `path` atomically: into a temporary file in the same directory,
    /// flushed to disk, then renamed over `path`, so a reader (or a crash) never sees a
    /// half-written file.
    /// Only a regular file (or a symbolic link, which is replaced) is ever replaced: renaming
    /// over a device such as /dev/null would, as root, swap the device for a plain file.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let file = try AtomicFile(path: path)
        try bytes.withUnsafeBytes { try file.append($0) }
        try file.commit()
    }

    /// `writeAtomically` in pieces, for a file too large to assemble in memory first: the
    /// pieces go to a temporary file beside `path`, which `commit` flushes and renames into
    /// place; dropped without `commit` (an error, a crash), the temporary file is removed and
    /// `path` is untouched.
    public final class AtomicFile {
        public let path: String
        /// The temporary file being written (renamed to `path` by `commit`).
        public let temporaryPath: String
        private var fd: Int32
        private var committed = false

        public init(path: String) throws {
            (fd, temporaryPath) = try FileBytes.createTemporary(beside: path)
            self.path = path
        }

        deinit {
            if fd >= 0 { close(fd) }
            if !committed { unlink(temporaryPath) }
        }

        public func append(_ bytes: UnsafeRawBufferPointer) throws {
            if let failure = FileBytes.writeAll(bytes, to: fd) { throw FileError(path: path, failure) }
        }

        public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

        public func commit() throws {
            let synced = fsync(fd) == 0
            let closed = close(fd) == 0
            fd = -1
            if !synced || !closed {
                throw FileError(path: path, "cannot flush \(temporaryPath): \(String(cString: strerror(errno)))")
            }
            if rename(temporaryPath, path) != 0 {
                throw FileError(path: path, "cannot rename \(temporaryPath) into place: \(String(cString: strerror(errno)))")
            }
            committed = true
        }
    }

    /// Checks up front that `writeAtomically(_, to: path)` can create its file (the folder
    /// exists and takes a new file; `path` is not a device or folder), by creating and
    /// removing an empty temporary file: for outputs written only after long work.
    public static func checkWritable(_ path: String) throws {
        let (fd, temp) = try createTemporary(beside: path)
        close(fd)
        unlink(temp)
    }

    /// A new, empty temporary file in `path`'s folder, open for writing, after checking that
    /// `path` is absent, a regular file or a symbolic link.
    private static func createTemporary(beside path: String) throws -> (fd: Int32, temp: String) {
        var existing = stat()
        if lstat(path, &existing) == 0 {
            let type = existing.st_mode & S_IFMT
            guard type == S_IFREG || type == S_IFLNK else {
                throw FileError(path: path, "exists and is not a regular file: expected a path for a new file or a file to replace")
            }
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temp = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        if fd < 0 {
            throw FileError(path: path, "cannot create temporary file \(temp): \(String(cString: strerror(errno)))")
        }
        return (fd, temp)
    }

    /// Writes all of `bytes` to `fd`; the reason (with the system's message) if it could not.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> String? {
        bytes.withUnsafeBytes { writeAll($0, to: fd) }
    }

    static func writeAll(_ raw: UnsafeRawBufferPointer, to fd: Int32) -> String? {
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return "write failed after \(written) of \(raw.count) bytes: \(String(cString: strerror(errno)))"
            }
            written += n
        }
        return nil
    }

    /// A file opened for appending (a log): each `append` writes all its bytes or throws
    /// naming the file, so a full disk is an error rather than a trap.
    public final class AppendingFile {
        public let path: String
        private var fd: Int32

        public init(path: String) throws {
            self.path = path
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            if fd < 0 { throw FileError(path: path, "cannot open for appending: \(String(cString: strerror(errno)))") }
        }

        deinit { if fd >= 0 { close(fd) } }

        public func append(_ bytes: [UInt8]) throws {
            if let failure = FileBytes.writeAll(bytes, to: fd) { throw FileError(path: path, failure) }
        }
    }
}
