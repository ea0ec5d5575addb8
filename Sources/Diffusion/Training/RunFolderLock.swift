import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One writer per run folder: an advisory fcntl(2) write lock on `<folder>/.lock`, held for as
/// long as this object lives, with the holder's host and pid written inside for the message a
/// second run gets. The kernel drops the lock when the holder's process ends, however it ends
/// (kill -9 included), so a dead run never leaves a stale lock: the file stays, with the last
/// holder's line in it, and the next run simply takes it.
///
/// fcntl (POSIX record) locks rather than flock: on NFS they are the ones the server arbitrates
/// (NFSv4 LOCK; NLM over NFSv3), so two nodes sharing the folder see each other's lock. On a
/// server, the lock of a client that died is released when its lease runs out (NFSv4: about
/// 90 s by default), not at once. docs/faults.md, "One run per run folder", has the details.
///
/// POSIX locks belong to the process: any close of another descriptor of this file in the same
/// process would drop it, so nothing else in the program opens `.lock`.
public final class RunFolderLock {
    public static let fileName = ".lock"
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }  // releases the lock

    /// Takes the lock of `directory` (creating the folder with `create`; without it a missing
    /// folder gives nil: there is nothing to protect). Throws `RunFolderLock.Busy` at once,
    /// without waiting, when another process holds it.
    public static func acquire(directory: String, create: Bool = true, command: String = "launcher train") throws -> RunFolderLock? {
        if create {
            try FileError.createFolder(directory)
        } else if !FileManager.default.fileExists(atPath: directory) {
            return nil
        }
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, "cannot open the run folder's lock file: \(String(cString: strerror(errno)))") }
        var request = wholeFile(type: F_WRLCK)
        if fcntl(fd, F_SETLK, &request) == -1 {
            let code = errno
            defer { close(fd) }
            if code == EACCES || code == EAGAIN {
                throw Busy(directory: directory, lockPath: path, holder: holder(fd: fd))
            }
            throw FileError(path: path, "cannot lock the run folder (fcntl F_SETLK: \(String(cString: strerror(code)))); "
                            + (code == ENOLCK ? "on NFS this needs the lock service (NFSv4, or NFSv3 with lockd/statd and no 'nolock' mount option)"
                                              : "is the file system mounted read-only?"))
        }
        let line = "\(command) pid \(getpid()) on host \(hostName()) since \(ISO8601DateFormatter().string(from: Date()))\n"
        // The line is for people and for the next run's message; the lock is what counts, so a
        // failed write is not an error.
        _ = ftruncate(fd, 0)
        _ = line.utf8CString.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count - 1, 0) }
        return RunFolderLock(path: path, descriptor: fd)
    }

    /// Another process holds the lock.
    public struct Busy: Error, CustomStringConvertible {
        public let directory: String, lockPath: String
        /// "launcher train pid 1234 on host node1 since ...", as the holder wrote it.
        public let holder: String
        public var description: String {
            "run folder \(directory) is in use by \(holder) (lock \(lockPath)): two runs writing one folder would mix their "
                + "checkpoints and metrics; wait for that run to end or stop it, or give another --out"
        }
    }

    /// What the holder wrote; while it is still writing its line, the pid the kernel reports.
    private static func holder(fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(fd, &buffer, buffer.count, 0)
        let text = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        if !text.isEmpty { return text }
        var query = wholeFile(type: F_WRLCK)
        if fcntl(fd, F_GETLK, &query) == 0, query.l_type != Int16(F_UNLCK) {
            return "pid \(query.l_pid) (from the kernel's lock table; it has not written its line yet)"
        }
        return "another process (it has not written its line yet)"
    }

    private static func wholeFile(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "unknown" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
