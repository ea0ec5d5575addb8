import Diffusion
import Foundation

/// Writes `value` as sorted, indented JSON, atomically: the launcher's JSON files (`--json`, comparisons).
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileBytes.writeAtomically(Array(try e.encode(value)), to: path)
}
