import Diffusion
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Faults while `launcher train` runs under mpirun (docs/faults.md): a rank that stops
/// answering (SIGSTOP), a SIGTERM early in the launch, two runs on one folder, a killed
/// holder of the folder's lock. The tiny preset on a few images keeps each run short.
@Suite(.serialized) struct FaultEndToEndTests {
    /// 4000 steps planned: every run here ends by a fault, a signal or --max-steps.
    static let long = TrainEndToEndTests.base + ["--epochs", "1000", "--no-tensorboard"]

    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fault-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func metricsRows(_ run: String) -> Int {
        let text = (try? String(contentsOfFile: run + "/metrics.csv", encoding: .utf8)) ?? ""
        return max(0, text.split(separator: "\n").count - 1)
    }

    func savedStep(_ run: String) throws -> Int {
        let state = try Safetensors(contentsOf: run + "/training_state.safetensors")
        return try #require(Int(state.metadata["step"] ?? ""))
    }

    @Test func stalledRankIsNamedAndTheJobEndsWithItsCheckpointIntact() throws {
        let out = temporaryDirectory()
        var stopped: (pid: pid_t, at: Date)?
        let started = Date()
        let run = try MPIRun.launcher(Self.long + ["--checkpoint-every", "5", "--stall-warning", "2s", "--stall-timeout", "6s",
                                                   "--out", out], ranks: 2, timeout: 180, stopWhen: {
            // SIGSTOP rank 1 once a few steps and a checkpoint are done; never SIGTERM.
            if stopped == nil, metricsRows(out) >= 7, let pid = RankProcesses.find(marker: out)[1] {
                kill(pid, SIGSTOP)
                stopped = (pid, Date())
            }
            return false
        })
        let ended = Date()
        if let pid = stopped?.pid, kill(pid, 0) == 0 { kill(pid, SIGKILL) }  // mpirun should have ended it
        let stop = try #require(stopped, "rank 1 was never found to stop; stderr:\n\(run.stderr)")
        let seconds = ended.timeIntervalSince(stop.at)
        print("stall: job ended \(String(format: "%.1f", seconds)) s after SIGSTOP of rank 1 (run \(String(format: "%.1f", ended.timeIntervalSince(started))) s)")
        #expect(run.status != 0)
        #expect(run.stderr.contains("warning: stall: rank 0 has waited"), "\(run.stderr)")
        #expect(run.stderr.contains("not arrived: rank 1 ("), "\(run.stderr)")
        #expect(run.stderr.contains("error: stall: rank 0") && run.stderr.contains("(--stall-timeout): ending the job"),
                "\(run.stderr)")
        #expect(!run.stdout.contains("trained to step"))
        #expect(seconds < 60, "the job should end about 6 s after the stall, not \(seconds) s")

        // The last checkpoint is whole, and --resume (one rank) continues from it.
        let step = try savedStep(out)
        #expect(step >= 5 && step % 5 == 0, "step \(step)")
        let resumed = try MPIRun.launcher(Self.long + ["--max-steps", "\(step + 1)", "--out", out, "--resume"], ranks: 1, timeout: 300)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try savedStep(out) == step + 1)
        #expect(metricsRows(out) == step + 1)
    }

    /// SIGTERM to the ranks (as Slurm's scancel sends it: to every task) as soon as they exist,
    /// during MPI init and the data load, and at the first steps: the run must stop (with a
    /// checkpoint if it took a step, with nothing written if not), never train on. (A SIGTERM to
    /// mpirun that early is mpirun's to pass on: docs/faults.md, "Early signals".)
    @Test(arguments: [0.0, 1.0, 3.0])
    func earlySigtermStopsTheRun(delay: Double) throws {
        let out = temporaryDirectory()
        let started = Date()
        var signalled: [pid_t] = []
        // A rank signalled before its first instructions dies of it, and mpirun then waits out
        // its timers (2 x 5 s) before it exits.
        let run = try MPIRun.run(["mpirun", "-np", "2", "--oversubscribe", "--mca", "odls_base_sigkill_timeout", "5",
                                  try MPIRun.launcherURL().path] + Self.long + ["--out", out], timeout: 120, stopWhen: {
            if signalled.isEmpty, Date().timeIntervalSince(started) >= delay {
                signalled = Array(RankProcesses.find(marker: out).values)
                for pid in signalled { kill(pid, SIGTERM) }
            }
            return false
        })
        let seconds = Date().timeIntervalSince(started)
        let hasState = FileManager.default.fileExists(atPath: out + "/training_state.safetensors")
        print("SIGTERM to \(signalled.count) rank(s) at \(delay) s: ended after \(String(format: "%.1f", seconds)) s, status \(run.status), "
              + (hasState ? "checkpoint at step \((try? savedStep(out)) ?? -1)" : "no checkpoint"))
        #expect(!signalled.isEmpty)
        #expect(!run.stdout.contains("trained to step"), "\(run.stdout)")
        if run.stdout.contains("stopped before the first step") {
            #expect(!hasState, "a run stopped before its first step wrote a checkpoint")
        } else if hasState {
            let step = try savedStep(out)
            #expect(step >= 1 && step < 4000)
            #expect(metricsRows(out) == step)
            #expect(run.stdout.contains("stopped at step \(step)"), "\(run.stdout)\n\(run.stderr)")
        } else {
            // Only a rank signalled before its handlers exist (the first instructions of main)
            // dies of it; mpirun then ends the job.
            #expect(run.status != 0, "\(run.stdout)\n\(run.stderr)")
        }
    }

    /// SIGTERM to mpirun: Open MPI 4.1 sends the ranks SIGCONT at once and SIGTERM only
    /// odls_base_sigkill_timeout (here 10) seconds later. The ranks take the SIGCONT as the
    /// stop, so they stop at their next agreement, not 10 s later.
    @Test func sigtermToMpirunStopsTheRanksAtOnce() throws {
        let out = temporaryDirectory()
        var signalledAt: Date?
        let run = try MPIRun.run(["mpirun", "-np", "2", "--oversubscribe", "--mca", "odls_base_sigkill_timeout", "10",
                                  try MPIRun.launcherURL().path] + Self.long + ["--out", out], timeout: 120, stopWhen: {
            // Once both ranks run (their handlers are in place from the first instructions on).
            if signalledAt == nil, RankProcesses.find(marker: out).count == 2 { signalledAt = Date() }
            return signalledAt.map { Date().timeIntervalSince($0) > 1 } ?? false
        })
        #expect(run.stdout.contains("(SIGCONT: mpirun is ending the job)"), "\(run.stdout)\n\(run.stderr)")
        #expect(!run.stdout.contains("trained to step"))
        if FileManager.default.fileExists(atPath: out + "/training_state.safetensors") {
            // A step or two at most: without the SIGCONT the ranks would have trained 10 s more.
            let step = try savedStep(out)
            #expect(metricsRows(out) == step)
            let seconds = (try? String(contentsOfFile: out + "/metrics.csv", encoding: .utf8))?
                .split(separator: "\n").last.flatMap { line in Double(line.split(separator: ",", omittingEmptySubsequences: false)[5]) } ?? 0
            #expect(seconds < 8, "trained \(seconds) s after the signal")
        }
    }

    @Test func secondRunOnAFolderRefusesNamingTheHolder() throws {
        let out = temporaryDirectory()
        let release = Box(false)
        let first = Box<Result<MPIRun, Error>?>(nil)
        let thread = Thread {
            first.value = Result { try MPIRun.launcher(Self.long + ["--out", out], ranks: 1, timeout: 300,
                                                       stopWhen: { release.value }) }
        }
        thread.start()
        defer { release.value = true }
        let deadline = Date().addingTimeInterval(240)
        while metricsRows(out) < 2 && first.value == nil && Date() < deadline { usleep(50_000) }
        #expect(metricsRows(out) >= 2, "the first run did not start training")
        let holder = try String(contentsOfFile: out + "/" + RunFolderLock.fileName, encoding: .utf8)
        let pid = try #require(holder.split(separator: " ").drop { $0 != "pid" }.dropFirst().first.flatMap { Int32($0) }, "\(holder)")
        #expect(kill(pid, 0) == 0, "the lock names pid \(pid), which is not running")

        for extra in [[], ["--resume"]] {
            let t0 = Date()
            let second = try MPIRun.launcher(TrainEndToEndTests.common + ["--max-steps", "2", "--out", out] + extra, ranks: 2, timeout: 120)
            print("second run\(extra.isEmpty ? "" : " with --resume") refused after \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
            #expect(second.status != 0)
            #expect(second.stderr.contains("run folder \(out) is in use by launcher train pid \(pid) on host "), "\(second.stderr)")
            #expect(!second.stdout.contains("training "), "\(second.stdout)")
        }
        release.value = true
        while first.value == nil { usleep(50_000) }
        let result = try #require(try first.value?.get())
        #expect(result.stdout.contains("stopped at step"), "\(result.stdout)\n\(result.stderr)")
    }

    @Test func killedHolderLeavesNoStaleLock() throws {
        let out = temporaryDirectory()
        var killed: pid_t?
        let run = try MPIRun.launcher(Self.long + ["--checkpoint-every", "1", "--out", out], ranks: 1, timeout: 300, stopWhen: {
            if killed == nil, metricsRows(out) >= 2,
               let line = try? String(contentsOfFile: out + "/" + RunFolderLock.fileName, encoding: .utf8),
               let pid = line.split(separator: " ").drop(while: { $0 != "pid" }).dropFirst().first.flatMap({ pid_t($0) }) {
                kill(pid, SIGKILL)
                killed = pid
            }
            return false
        })
        let pid = try #require(killed, "\(run.stderr)")
        #expect(run.status != 0)
        let step = try savedStep(out)
        let resumed = try MPIRun.launcher(Self.long + ["--max-steps", "\(step + 1)", "--out", out, "--resume"], ranks: 1, timeout: 300)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try savedStep(out) == step + 1)
        let line = try String(contentsOfFile: out + "/" + RunFolderLock.fileName, encoding: .utf8)
        #expect(!line.contains("pid \(pid) "), "the lock file still names the killed run: \(line)")
    }
}

/// A value shared with a thread.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// The launcher ranks of a run, found through /proc: processes whose arguments include
/// `marker` (the run folder), by their OMPI_COMM_WORLD_RANK.
enum RankProcesses {
    static func find(marker: String) -> [Int: pid_t] {
        var ranks: [Int: pid_t] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                  let arguments = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline")),
                  let environment = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/environ")) else { continue }
            let words = arguments.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard words.first?.hasSuffix("launcher") == true, words.contains(marker) else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if let rank = variables.first(where: { $0.hasPrefix("OMPI_COMM_WORLD_RANK=") }).flatMap({ Int($0.dropFirst(21)) }) {
                ranks[rank] = pid
            }
        }
        return ranks
    }
}
