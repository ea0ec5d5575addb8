import Foundation
import Testing
@testable import Diffusion

/// Reference data for the schedule and sampler tests, committed in Tests/Fixtures
/// (docs/architecture.md, "Test fixtures", says how each file was made).
enum ReferenceFixture {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ name: String) -> URL? {
        let url = packageRoot.appendingPathComponent("Tests/Fixtures/\(name)")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static func load(_ name: String) throws -> [String: Any] {
        guard let url = url(name) else {
            throw FixtureError("\(name) not found in \(packageRoot.path)/Tests/Fixtures")
        }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let dictionary = object as? [String: Any] else { throw FixtureError("\(url.path): top level is not an object") }
        return dictionary
    }

    // Read once (a static let initializes exactly once, thread-safely) and never written after:
    // safe to share although [String: Any] is not Sendable.
    nonisolated(unsafe) static let schedulerVectors: [String: Any] = try! load("scheduler_vectors.json")
    nonisolated(unsafe) static let timestepSpacings: [String: Any] = try! load("timestep_spacings.json")
    nonisolated(unsafe) static let fewStepVectors: [String: Any] = try! load("fewstep_vectors.json")
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - reading JSON values

func dict(_ value: Any?, _ what: String = "") -> [String: Any] {
    guard let d = value as? [String: Any] else { Issue.record("fixture: \(what) is not an object"); return [:] }
    return d
}

func number(_ value: Any?) -> Double {
    if let n = value as? NSNumber { return n.doubleValue }
    if let d = value as? Double { return d }
    if let i = value as? Int { return Double(i) }
    Issue.record("fixture: \(String(describing: value)) is not a number")
    return .nan
}

func numbers(_ value: Any?) -> [Double] { (value as? [Any] ?? []).map(number) }
func integers(_ value: Any?) -> [Int] { numbers(value).map { Int($0) } }

/// The fixture's [2,1,4,4] tensors (C = 1, so NCHW and NHWC coincide).
func fixtureTensor(_ values: [Double]) -> Tensor {
    Tensor(shape: [2, 4, 4, 1], values: values.map { Float($0) })
}

/// Checks |actual - expected| <= tolerance · max(1, |expected|) elementwise, reporting the worst.
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-5, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = 0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - e) / max(1, abs(e))
        if !(error <= worst) { worst = error; worstIndex = i }
    }
    #expect(worst <= tolerance,
            "\(what): max error \(worst) at [\(worstIndex)] (\(actual[worstIndex]) vs \(expected[worstIndex])), tolerance \(tolerance)",
            sourceLocation: sourceLocation)
}

func expectClose(_ actual: Double, _ expected: Double, relative tolerance: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    let error = abs(actual - expected) / abs(expected)
    #expect(error <= tolerance, "\(what): \(actual) vs \(expected), relative error \(error) > \(tolerance)",
            sourceLocation: sourceLocation)
}

func bool(_ value: Any?) -> Bool {
    if let b = value as? Bool { return b }
    return number(value) != 0
}
