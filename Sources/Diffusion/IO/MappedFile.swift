import Foundation

/// A whole file mapped read-only into memory: its pages come from the page cache, shared by
/// every process on the host that maps the same file, and are not counted as this process's
/// allocations. Unmapped when the last reference goes.
public final class MappedFile: @unchecked Sendable {  // read-only after init
    /// The file's name in messages.
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path`; `name` is what messages call it (a temporary file about to be renamed
    /// into place is named by its final path).
    public init(path: String, name: String? = nil) throws {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw FileError(path: path, "cannot open for reading: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        self.path = name ?? path
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw FileError(path: path, "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
