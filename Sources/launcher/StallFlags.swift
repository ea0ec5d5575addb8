import ArgumentParser
import Diffusion
import Distributed
import Foundation

/// `train --stall-warning 60s --stall-timeout 10m`: how long a rank waits in a collective
/// before it names the ranks that have not arrived, and before the job is ended
/// (Distributed/StallWatch.swift; docs/faults.md).
struct StallFlags: ParsableArguments {
    @Option(help: ArgumentHelp("After this long in a collective (a gradient bucket's allreduce, a barrier, a broadcast), every "
                               + "waiting rank prints which ranks have not arrived, the step and the bucket, and again at each "
                               + "multiple. Units s, m, h; 0 turns the stall check off (plain blocking collectives).", valueName: "duration"))
    var stallWarning = "60s"
    @Option(help: ArgumentHelp("After this long in one collective the job ends (MPI_Abort, exit status "
                               + "\(StallPolicy.abortCode)) with a message naming the missing ranks; the last checkpoint "
                               + "stays for --resume. 0 turns it off.", valueName: "duration"))
    var stallTimeout = "10m"

    func validate() throws { _ = try times() }

    /// (warning, timeout) in seconds; warning nil when the check is off, timeout nil when off.
    func times() throws -> (warning: Double?, timeout: Double?) {
        if Self.isZero(stallWarning) { return (nil, nil) }
        let warning = try WallDuration(parsing: stallWarning, name: "--stall-warning").seconds
        let timeout = try Self.isZero(stallTimeout) ? nil : WallDuration(parsing: stallTimeout, name: "--stall-timeout").seconds
        if let timeout, timeout < warning {
            throw OptionError("--stall-timeout", "is \(stallTimeout), shorter than --stall-warning \(stallWarning): "
                              + "the warning would never show (0 turns the timeout off)")
        }
        return (warning, timeout)
    }

    /// "0", "0s", "0m": off.
    static func isZero(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let rest = trimmed.dropFirst(number.count)
        return Double(number) == 0 && (rest.isEmpty || ["s", "m", "h"].contains(rest.lowercased()))
    }

    /// Turns the stall check on for `comm` (collective); `directory` is named in the abort message.
    func watch(_ comm: Communicator, directory: String) throws {
        let (warning, timeout) = try times()
        guard let warning else { return }
        try comm.watchStalls(StallPolicy(warningSeconds: warning, timeoutSeconds: timeout,
                                         abortHint: "the last checkpoint stays: continue with --out \(directory) --resume"))
    }
}
