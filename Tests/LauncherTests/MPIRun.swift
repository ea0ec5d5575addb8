import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `launcher` under mpirun, as a user would, and keeps its exit status and
/// output. End-to-end tests share this; copy it if another test target needs it.
///
/// The child is started with posix_spawn and reaped with waitpid, not with Foundation's
/// Process: once this test process has made a singleton MPI_Init, Open MPI owns SIGCHLD and
/// Process never learns that its child exited (waitUntilExit hangs on a zombie).
struct MPIRun {
    let status: Int32
    let stdout: String
    let stderr: String

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `mpirun -np ranks --oversubscribe <launcher> arguments...`, ended after `timeout` seconds.
    /// `stopWhen`: polled while it runs; when it turns true the command gets one SIGTERM.
    static func launcher(_ arguments: [String], ranks: Int, timeout: TimeInterval = 120,
                         stopWhen: (() -> Bool)? = nil, environment: [String: String] = [:]) throws -> MPIRun {
        try run(["mpirun", "-np", "\(ranks)", "--oversubscribe", try launcherURL().path] + arguments,
                timeout: timeout, stopWhen: stopWhen, environment: environment)
    }

    /// `mpirun -np ranks --oversubscribe <product> arguments...` for another executable built
    /// beside the launcher (the communicator-checks test harness).
    static func product(_ name: String, _ arguments: [String], ranks: Int, timeout: TimeInterval = 120) throws -> MPIRun {
        let path = try launcherURL().deletingLastPathComponent().appendingPathComponent(name).path
        return try run(["mpirun", "-np", "\(ranks)", "--oversubscribe", path] + arguments, timeout: timeout)
    }

    /// Any command line (the first word looked up on PATH) with `childEnvironment()`, ended
    /// after `timeout` seconds: mpirun with options of its own, or inside a network namespace.
    /// `directory`: the working directory (default: this process's); `environment`: variables
    /// added to (or replacing) `childEnvironment()`'s.
    static func run(_ command: [String], timeout: TimeInterval = 120, stopWhen: (() -> Bool)? = nil,
                    directory: String? = nil, environment: [String: String] = [:]) throws -> MPIRun {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("mpirun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        let stdoutPath = output.appendingPathComponent("stdout").path
        let stderrPath = output.appendingPathComponent("stderr").path

        // In another working directory: through sh, since glibc's posix_spawn chdir is not exported to Swift.
        let spawned = directory.map { ["sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + command } ?? command
        let (status, timedOut) = try spawnAndWait(spawned, environment: childEnvironment().merging(environment) { $1 },
                                                  stdoutPath: stdoutPath, stderrPath: stderrPath,
                                                  timeout: timeout, stopWhen: stopWhen)
        let run = MPIRun(status: status,
                         stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
        if timedOut {
            throw Failure(description: "\(command.joined(separator: " ")) still running after \(timeout) s"
                          + "\nstdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
        }
        return run
    }

    /// The launcher sits in the build products directory (.build/<triple>/debug or release)
    /// with the test executable; on macOS the test bundle is a few levels further down.
    static func launcherURL() throws -> URL {
        let testExecutable = (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0]))
            .resolvingSymlinksInPath()
        var directory = testExecutable.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("launcher")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw Failure(description: "no launcher executable near \(testExecutable.path); build it first (swift build)")
    }

    /// This process's environment without Open MPI's and PMIx's variables: a process that made
    /// a singleton MPI_Init carries them, and an mpirun started with them exits 1 silently.
    /// `--precision auto`'s cache goes to a folder of this test process (`cacheHome`), not the
    /// user's ~/.cache.
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_")
        }
        // Decoded-image caches (--data-cache's default) go to a folder of the test run, not the user's cache.
        environment["XDG_CACHE_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("launcher-tests-cache-\(getpid())").path
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["XDG_CACHE_HOME"] = cacheHome
        return environment
    }

    static let cacheHome = FileManager.default.temporaryDirectory.appendingPathComponent("launcher-tests-cache-\(getpid())").path

    /// Runs `command` (looked up on PATH) with stdout and stderr into files and stdin from
    /// /dev/null. On timeout: SIGTERM (mpirun passes it on to its ranks), SIGKILL 10 s later.
    /// Returns the exit status (128 + signal when killed by a signal).
    private static func spawnAndWait(_ command: [String], environment: [String: String],
                                     stdoutPath: String, stderrPath: String,
                                     timeout: TimeInterval,
                                     stopWhen: (() -> Bool)?) throws -> (status: Int32, timedOut: Bool) {
        var files = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&files)
        defer { posix_spawn_file_actions_destroy(&files) }
        posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&files, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&files, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        // The child starts with no blocked signals and default dispositions: this process may
        // block or ignore SIGTERM on its threads, and both would pass through exec to mpirun.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGCHLD, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &files, &attributes, argv, envp)
        guard spawned == 0 else {
            throw Failure(description: "cannot start \(command[0]): \(String(cString: strerror(spawned)))")
        }

        let start = Date()
        var signalled: Int32 = 0
        var status: Int32 = 0
        var stopSent = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped == -1 && errno != EINTR {
                throw Failure(description: "waitpid(\(command[0])): \(String(cString: strerror(errno)))")
            }
            if !stopSent, let stopWhen, stopWhen() { stopSent = true; kill(pid, SIGTERM) }
            let elapsed = Date().timeIntervalSince(start)
            if signalled == 0 && elapsed > timeout { signalled = SIGTERM; kill(pid, SIGTERM) }
            if signalled == SIGTERM && elapsed > timeout + 10 { signalled = SIGKILL; kill(pid, SIGKILL) }
            usleep(20_000)
        }
        // The wait status: low 7 bits are the signal (0 for a normal exit), the next byte the code.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, signalled != 0)
    }
}
