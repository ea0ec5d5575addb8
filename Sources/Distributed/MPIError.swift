internal import CMPI

/// A failed MPI call, or a call the communicator refused before it reached MPI.
///
/// The world communicator uses MPI_ERRORS_RETURN, so MPI hands errors back as codes instead of
/// ending the process; every call is checked and turned into this error.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    /// The MPI function (`MPI_Allreduce`) or the communicator operation (`gatherv`) that failed.
    public let call: String
    /// The MPI error code (an MPI_ERR_* class for errors found before calling MPI).
    public let code: Int32
    /// MPI's text for `code` (MPI_Error_string), or what was wrong with the arguments.
    public let message: String
    /// The world rank that saw the error, when MPI was initialized.
    public let rank: Int?

    init(call: String, code: Int32, detail: String? = nil) {
        self.call = call
        self.code = code
        self.message = detail ?? MPIError.errorString(code)
        self.rank = Communicator.runningRank
    }

    public var description: String {
        let place = rank.map { " on rank \($0)" } ?? ""
        return "\(call) failed\(place): \(message) (MPI error code \(code))"
    }

    /// MPI_Error_string, which Open MPI answers at any time, even outside init/finalize.
    static func errorString(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &text, &length) == cmpi_success() else {
            return "unknown MPI error"
        }
        return string(fromCString: text)
    }
}

/// The text of a NUL-terminated C string buffer filled by MPI (whose reported lengths do not
/// agree on counting the NUL).
func string(fromCString buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Throws `MPIError` unless `code` is MPI_SUCCESS.
@inline(__always)
func check(_ code: Int32, _ call: String) throws {
    if code != cmpi_success() { throw MPIError(call: call, code: code) }
}
