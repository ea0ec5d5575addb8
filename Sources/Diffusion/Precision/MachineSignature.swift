import Foundation
import Kernels

/// What a convolution timing depends on besides the model: the CPU (vendor, family, model),
/// the instruction sets usable here, and the one oneDNN dispatches (`ONEDNN_MAX_CPU_ISA` can
/// hold it below the CPU's). Detected at run time, never implied by the model number: the
/// same Xeon (family 6 model 207) has come with AMX exposed on one host and without on another.
public struct MachineSignature: Codable, Sendable, Equatable {
    /// "GenuineIntel family 6 model 207 (INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz)".
    public let cpu: String
    /// The `bench peak` loops this process can run: "avx2+fma", "avx512f", "avx512_bf16",
    /// "amx_bf16" (the last only when Linux granted the tiles).
    public let features: [String]
    /// "oneDNN 2.6.3 (avx512_core_bf16)".
    public let oneDNN: String

    public init(cpu: String, features: [String], oneDNN: String) {
        self.cpu = cpu; self.features = features; self.oneDNN = oneDNN
    }

    /// This process's machine.
    public static func current() -> MachineSignature {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return MachineSignature(cpu: cpu(fromCPUInfo: text), features: ArithmeticPeak.Loop.allCases.filter(\.isSupported).map(\.feature),
                                oneDNN: ConvolutionBackend.oneDNNDescription)
    }

    /// The first processor's vendor, family, model and name in /proc/cpuinfo's text.
    static func cpu(fromCPUInfo text: String) -> String {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty, !fields.isEmpty { break }  // end of the first block
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            if fields[name] == nil { fields[name] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let vendor = fields["vendor_id"], let family = fields["cpu family"], let model = fields["model"] else {
            return "unknown CPU (no vendor_id, cpu family and model in /proc/cpuinfo)"
        }
        return "\(vendor) family \(family) model \(model)" + (fields["model name"].map { " (\($0))" } ?? "")
    }

    /// One line for `launcher info`.
    public var description: String {
        "\(cpu); usable here: \(features.isEmpty ? "none of the measured vector sets" : features.joined(separator: ", "))"
            + (features.contains("amx_bf16") ? "" : " (no usable AMX)") + "; \(oneDNN)"
    }
}

extension ArithmeticPeak.Loop {
    /// The instruction set the loop needs, as /proc/cpuinfo spells it.
    var feature: String {
        switch self {
        case .fma256: return "avx2+fma"
        case .fma512: return "avx512f"
        case .dpbf16: return "avx512_bf16"
        case .amxbf16: return "amx_bf16"
        }
    }
}
