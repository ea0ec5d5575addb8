import Foundation

/// Runs the built `launcher` under mpirun, as a user would, and keeps its exit status and
/// output. A copy of Tests/DistributedTests/MPIRun.swift (test targets cannot share files).
struct MPIRun {
    let status: Int32
    let stdout: String
    let stderr: String

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `mpirun -np ranks --oversubscribe <launcher> arguments...`, ended after `timeout` seconds.
    static func launcher(_ arguments: [String], ranks: Int, timeout: TimeInterval = 120) throws -> MPIRun {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("mpirun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        let stdoutURL = output.appendingPathComponent("stdout")
        let stderrURL = output.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] where !FileManager.default.createFile(atPath: url.path, contents: nil) {
            throw Failure(description: "cannot create \(url.path)")
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["mpirun", "-np", "\(ranks)", "--oversubscribe", try launcherURL().path] + arguments
        process.environment = childEnvironment()
        // Files, not pipes: a chatty child can never block on a full pipe while we wait.
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()

        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let timedOut = process.isRunning
        if timedOut { process.terminate() }  // mpirun passes SIGTERM on to its ranks
        process.waitUntilExit()

        let run = MPIRun(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
        if timedOut {
            throw Failure(description: "mpirun -np \(ranks) launcher \(arguments.joined(separator: " ")) "
                          + "still running after \(timeout) s\nstdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
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
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_")
        }
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return environment
    }
}
