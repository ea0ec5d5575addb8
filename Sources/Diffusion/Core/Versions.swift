import CZlib

/// Versions of the C libraries this module links, for `launcher info`.
public enum Versions {
    /// zlib's run-time version (zlibVersion()).
    public static var zlib: String { String(cString: zlibVersion()) }
}
