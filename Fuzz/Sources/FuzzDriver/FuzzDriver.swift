import CFuzzer
import Diffusion
import Foundation

/// Runs libFuzzer on `test` with the program's arguments, then exits with its status.
///
/// Each target has a Swift `@main` that calls this: SwiftPM renames an executable's `main`
/// and links it back in, so a target without one (relying on libFuzzer's main) does not link,
/// and one with an empty top-level main would shadow libFuzzer's. `LLVMFuzzerRunDriver` is
/// libFuzzer's entry for programs with their own main.
public func runFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    // A reader's notes (safetensors without hashes) would be printed per input.
    SafetensorsHashes.notesEnabled = false
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, test)
    exit(status)
}

/// The input as an array, as the readers take it.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
