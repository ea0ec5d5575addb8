import Foundation
import Testing
import Kernels

/// The Python helpers in Tests/Scripts, run as independent checkers of what we write.
enum Python {
    static let scripts = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Scripts")

    struct Output {
        let status: Int32
        let stdout: Data
        let stderr: String
    }

    /// Runs `python3 script args...`, capturing its output through files (no pipe to fill).
    static func run(_ script: String, _ arguments: [String]) throws -> Output {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outPath = dir + "/stdout", errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scripts.appendingPathComponent(script).path] + arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        return Output(status: process.terminationStatus,
                      stdout: try Data(contentsOf: URL(fileURLWithPath: outPath)),
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Runs a helper that must succeed and print JSON.
    static func json(_ script: String, _ arguments: [String]) throws -> Any {
        let out = try run(script, arguments)
        guard out.status == 0 else {
            throw HelperFailure(message: "\(script) \(arguments.joined(separator: " ")) exited \(out.status): \(out.stderr)")
        }
        return try JSONSerialization.jsonObject(with: out.stdout)
    }

    struct HelperFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static let hasNumpy: Bool = (try? run("numpy_check.py", ["probe"]).status) != 3
    static let hasPillow: Bool = (try? run("pillow_resize.py", ["/dev/null", "/dev/null"]).status) == 0
}

/// A fresh directory under the system's temporary directory.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "diffusion-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// JSON numbers as Ints.
func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as? NSNumber)?.intValue ?? -1 } }
func doubles(_ any: Any?) -> [Double] { (any as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan } }

/// Runs a test (or every test of a suite) with kernels on `count` threads, scoped to it:
/// suites running at the same time keep their own counts (`Parallel.withThreads`).
struct KernelThreads: TestTrait, SuiteTrait, TestScoping {
    let count: Int
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        BLAS.keepSingleThreaded()
        try await Parallel.withThreads(count) { try await function() }
    }
}

extension Trait where Self == KernelThreads {
    static func kernelThreads(_ count: Int) -> Self { KernelThreads(count: count) }
}
