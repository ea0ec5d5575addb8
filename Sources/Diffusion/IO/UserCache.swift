import Foundation

/// This project's folder in the user's cache: $XDG_CACHE_HOME/fashion-diffusion, or
/// ~/.cache/fashion-diffusion (reference statistics, decoded data sets).
public enum UserCache {
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache"
        return base + "/fashion-diffusion"
    }
}
