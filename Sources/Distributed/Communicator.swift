import Foundation
internal import CMPI

/// The world communicator: every rank of the job (or just this process when it was started
/// without mpirun, as an MPI singleton).
///
/// MPI is initialized once per process with MPI_THREAD_SERIALIZED: any thread may call MPI,
/// but never two at once. Collectives must be called by every rank, in the same order.
public final class Communicator {
    public let rank: Int
    public let size: Int
    /// MPI_Get_processor_name: the host this rank runs on.
    public let processorName: String
    public var isRoot: Bool { rank == 0 }

    var comm: MPI_Comm { cmpi_comm_world() }

    /// The stall check, once `watchStalls` has turned it on (StallWatch.swift).
    var stallWatch: StallWatch?

    private init(rank: Int, size: Int, processorName: String) {
        self.rank = rank
        self.size = size
        self.processorName = processorName
    }

    /// The world communicator, initializing MPI on first use. Later calls return the same
    /// communicator. Throws after `finalize()`, since MPI cannot be initialized twice.
    public static func world() throws -> Communicator {
        lifecycleLock.lock()
        defer { lifecycleLock.unlock() }
        switch lifecycle {
        case .running(let communicator): return communicator
        case .finalized: throw finalizedError("MPI_Init_thread")
        case .idle: break
        }

        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try check(MPI_Initialized(&initialized), "MPI_Initialized")
        try check(MPI_Finalized(&finalized), "MPI_Finalized")
        if finalized != 0 { throw finalizedError("MPI_Init_thread") }
        var provided: Int32 = 0
        if initialized == 0 {
            try check(MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided), "MPI_Init_thread")
        } else {
            try check(MPI_Query_thread(&provided), "MPI_Query_thread")
        }
        guard provided >= cmpi_thread_serialized() else {
            throw MPIError(call: "MPI_Init_thread", code: MPI_ERR_OTHER,
                           detail: "MPI provides thread level \(provided), below MPI_THREAD_SERIALIZED "
                                 + "(\(cmpi_thread_serialized())) which this program needs")
        }

        let world = cmpi_comm_world()
        try check(MPI_Comm_set_errhandler(world, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0
        var size: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        var name = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var nameLength: Int32 = 0
        try check(MPI_Get_processor_name(&name, &nameLength), "MPI_Get_processor_name")

        let communicator = Communicator(
            rank: Int(rank), size: Int(size),
            processorName: string(fromCString: name))
        lifecycle = .running(communicator)
        return communicator
    }

    /// Ends MPI for this process (collective). Later calls do nothing; later operations throw.
    public func finalize() throws {
        lifecycleLock.lock()
        defer { lifecycleLock.unlock() }
        guard case .running = lifecycle else { return }
        stallWatch?.finish()
        lifecycle = .finalized
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// Seconds since an arbitrary origin (MPI_Wtime); the first value may be 0, so use
    /// differences only.
    public static func wtime() -> Double { MPI_Wtime() }

    /// MPI_Get_library_version, e.g. "Open MPI v4.1.4, package: ...". Works without init.
    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&text, &length) == cmpi_success() else { return "unknown MPI" }
        return string(fromCString: text)
    }

    /// Prints "error: <message> (rank R of N)" to stderr and ends the whole job: MPI_Abort on
    /// the world ends every rank, which a plain exit would leave waiting in their next
    /// collective. A job of one rank just exits with `code`.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        fflush(nil)
        // write(contentsOf:) throws where write(_:) traps (stderr on a full disk or closed).
        try? FileHandle.standardError.write(contentsOf: Data("error: \(message) (rank \(rank) of \(size))\n".utf8))
        if size > 1, Communicator.runningRank != nil {
            MPI_Abort(comm, code)
        }
        exit(code)
    }

    /// Runs one MPI call after checking that MPI is still running, and checks its result.
    @inline(__always)
    func call(_ name: String, _ body: () -> Int32) throws {
        if Communicator.runningRank == nil { throw Communicator.finalizedError(name) }
        try check(body(), name)
    }

    private static func finalizedError(_ call: String) -> MPIError {
        MPIError(call: call, code: MPI_ERR_OTHER,
                 detail: "MPI was already finalized in this process and cannot be used or initialized again")
    }

    /// This process's rank while MPI is running, nil before init and after finalize.
    static var runningRank: Int? {
        lifecycleLock.lock()
        defer { lifecycleLock.unlock() }
        if case .running(let communicator) = lifecycle { return communicator.rank }
        return nil
    }
}

private enum Lifecycle {
    case idle
    case running(Communicator)
    case finalized
}

// Recursive: an MPIError made while `world()` holds the lock asks for the running rank.
private let lifecycleLock = NSRecursiveLock()
nonisolated(unsafe) private var lifecycle = Lifecycle.idle
