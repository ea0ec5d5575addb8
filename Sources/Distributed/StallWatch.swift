import Foundation
internal import CMPI

/// How long a rank may wait in a collective: after `warningSeconds` it prints which ranks have
/// not arrived (and again every `warningSeconds`), after `timeoutSeconds` (nil: never) it ends
/// the whole job with MPI_Abort.
public struct StallPolicy: Sendable {
    public var warningSeconds: Double
    public var timeoutSeconds: Double?
    /// Appended to the abort message (what to do next: "continue with --resume").
    public var abortHint: String
    /// The flags that set the two times, for the messages.
    public var warningName: String, timeoutName: String

    public init(warningSeconds: Double, timeoutSeconds: Double?, abortHint: String = "",
                warningName: String = "--stall-warning", timeoutName: String = "--stall-timeout") {
        self.warningSeconds = warningSeconds; self.timeoutSeconds = timeoutSeconds; self.abortHint = abortHint
        self.warningName = warningName; self.timeoutName = timeoutName
    }

    /// The exit status of a job ended by a stall (as timeout(1)'s).
    public static let abortCode: Int32 = 124
}

/// The stall check, after Horovod's: every watched collective gets a sequence number (the same
/// on every rank, since every rank starts the same collectives in the same order), and before
/// starting it a rank sends each peer an 8-byte "arrived at #k" notice on a communicator of its
/// own. A rank whose wait runs past the warning reads the notices that came in and names the
/// peers that have not reached the last collective it started itself. The notices cost a few
/// eager point-to-point messages per collective, and are drained as they come so MPI's
/// unexpected-message queue stays short.
///
/// The wait itself polls MPI_Testall: spinning (as MPI_Waitall would) for the first
/// `spinSeconds`, then, while a peer has not arrived, sleeping about 1% of the time waited so
/// far (at most 10 ms), so a long wait neither burns a core nor adds more than ~1% to it. What
/// the collectives compute does not change: only how a rank waits for them.
final class StallWatch {
    let policy: StallPolicy
    private let rank: Int, size: Int
    private let notices: MPI_Comm
    /// Watched collectives this rank has started; the next one gets `started + 1`.
    private(set) var started: Int64 = 0
    /// The highest notice received from each rank (this rank's own: `started`).
    private var lastSeen: [Int64]
    /// What each recent collective was, by sequence number modulo `history.count`.
    private var history: [Activity]
    /// Where the caller says it is: set before the collectives it starts.
    var current = Activity(step: nil, part: "setup")
    /// Notices in flight: the request and its 8-byte payload.
    private var sends: [(request: MPI_Request?, payload: UnsafeMutablePointer<Int64>)] = []

    static let noticeTag: Int32 = 27
    static let spinSeconds = 1.0

    struct Activity {
        var step: Int?
        var part: String
        var text: String { (step.map { "step \($0), " } ?? "") + part }
    }

    /// Collective (MPI_Comm_dup of `comm`).
    init(policy: StallPolicy, comm: MPI_Comm, rank: Int, size: Int) throws {
        self.policy = policy; self.rank = rank; self.size = size
        var dup: MPI_Comm? = nil
        try check(MPI_Comm_dup(comm, &dup), "MPI_Comm_dup (stall notices)")
        notices = dup!
        lastSeen = [Int64](repeating: 0, count: size)
        history = [Activity](repeating: Activity(step: nil, part: "setup"), count: 256)
    }

    /// A watched collective is about to start: numbers it and tells every peer.
    func arrive() throws -> Int64 {
        started += 1
        lastSeen[rank] = started
        history[Int(started % Int64(history.count))] = current
        completeSends()
        for peer in 0..<size where peer != rank {
            let payload = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
            payload.pointee = started
            var request: MPI_Request? = cmpi_request_null()
            let code = MPI_Isend(payload, 1, cmpi_int64(), Int32(peer), Self.noticeTag, notices, &request)
            if code != cmpi_success() { payload.deallocate(); try check(code, "MPI_Isend (stall notice)") }
            sends.append((request, payload))
        }
        try drain()
        return started
    }

    /// Waits for `requests` (collective number `sequence`), warning and aborting as the policy says.
    func wait(_ requests: inout [MPI_Request?], sequence: Int64, name: String) throws {
        let start = MPI_Wtime()
        var nextWarning = policy.warningSeconds
        while true {
            var done: Int32 = 0
            let code = requests.withUnsafeMutableBufferPointer {
                MPI_Testall(Int32($0.count), $0.baseAddress, &done, cmpi_statuses_ignore())
            }
            try check(code, "MPI_Testall (\(name))")
            if done != 0 { return }
            let waited = MPI_Wtime() - start
            if let timeout = policy.timeoutSeconds, waited >= timeout {
                try? drain()
                abortJob(report(waited: waited, sequence: sequence, name: name))
            }
            if waited >= nextWarning {
                try drain()
                StandardError.write("warning: stall: " + report(waited: waited, sequence: sequence, name: name)
                                    + (policy.timeoutSeconds.map { "; the job ends if it reaches \(Self.format($0)) (\(policy.timeoutName))" } ?? "")
                                    + "\n")
                nextWarning += policy.warningSeconds
            }
            // Past the first second: sleep while a peer has not arrived (nothing can move until
            // it does), spin while all have (the transfer needs this rank's MPI calls to move).
            if waited > Self.spinSeconds {
                try drain()
                if lastSeen.contains(where: { $0 < sequence }) { usleep(useconds_t(min(waited * 0.01, 0.01) * 1e6)) }
            }
        }
    }

    /// "rank 0 has waited 2.0 s in step 12, gradient bucket 1 of 3 (MPI_Iallreduce, collective #37); not arrived: rank 1 (...)"
    private func report(waited: Double, sequence: Int64, name: String) -> String {
        // The peers behind the last collective this rank started: a rank stopped after it
        // started an earlier one holds that one up too, since it no longer moves its part.
        let behind = (0..<size).filter { $0 != rank && lastSeen[$0] < started }
        var text = "rank \(rank) has waited \(Self.format(waited)) in \(activity(sequence).text) (\(name), collective #\(sequence))"
        if behind.isEmpty {
            text += "; every rank has started collective #\(started): the transfer itself is not finishing"
        } else {
            text += "; not arrived: " + behind.map { peer in
                let seen = lastSeen[peer]
                return "rank \(peer) (" + (seen == 0 ? "no collective started yet" : "last arrived at \(activity(seen).text), #\(seen)") + ")"
            }.joined(separator: ", ")
        }
        return text
    }

    private func activity(_ sequence: Int64) -> Activity {
        started - sequence < Int64(history.count) ? history[Int(sequence % Int64(history.count))]
                                                  : Activity(step: nil, part: "collective #\(sequence)")
    }

    private func abortJob(_ report: String) -> Never {
        let timeout = policy.timeoutSeconds ?? 0
        StandardError.write("error: stall: \(report); no progress for \(Self.format(timeout)) (\(policy.timeoutName)): "
                            + "ending the job" + (policy.abortHint.isEmpty ? "" : "; " + policy.abortHint) + "\n")
        MPI_Abort(cmpi_comm_world(), StallPolicy.abortCode)
        exit(StallPolicy.abortCode)
    }

    /// Reads every notice that has come in.
    private func drain() throws {
        while true {
            var flag: Int32 = 0
            var status = MPI_Status()
            try check(MPI_Iprobe(cmpi_any_source(), Self.noticeTag, notices, &flag, &status), "MPI_Iprobe (stall notices)")
            if flag == 0 { return }
            var value: Int64 = 0
            try check(MPI_Recv(&value, 1, cmpi_int64(), status.MPI_SOURCE, Self.noticeTag, notices, cmpi_status_ignore()),
                      "MPI_Recv (stall notice)")
            let source = Int(status.MPI_SOURCE)
            if (0..<size).contains(source) { lastSeen[source] = max(lastSeen[source], value) }
        }
    }

    /// Frees the notices that have gone (eager sends complete at once, or nearly).
    private func completeSends() {
        sends.removeAll { send in
            var request = send.request
            var done: Int32 = 0
            _ = MPI_Test(&request, &done, cmpi_status_ignore())
            if done != 0 { send.payload.deallocate() }
            return done != 0
        }
    }

    /// Before MPI_Finalize: completes the notices still in flight and reads those that came in.
    func finish() {
        for send in sends {
            var request = send.request
            _ = MPI_Wait(&request, cmpi_status_ignore())
            send.payload.deallocate()
        }
        sends = []
        try? drain()
    }

    static func format(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1f s", seconds) : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}

/// Writes to stderr without trapping when it is closed or full.
enum StandardError {
    static func write(_ text: String) {
        fflush(nil)  // what this rank printed before comes first
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}
