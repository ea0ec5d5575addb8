import Foundation
import Kernels

/// DIFFUSION_AVX512 is read where the kernels start; a value it does not know stops the
/// program here with a message instead of being taken for the default.
func refuseUnknownKernelChoice() {
    let name = KernelPath.environmentVariable
    guard let value = ProcessInfo.processInfo.environment[name], KernelPath.environmentAllowsAVX512(value) == nil else {
        return
    }
    FileHandle.standardError.write(Data(
        "error: \(name)=\(value): expected 0 (the Swift kernels) or 1 (AVX-512 where the CPU has it; the default)\n".utf8))
    exit(2)
}
