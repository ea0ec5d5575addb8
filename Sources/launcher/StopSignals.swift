import Foundation

/// SIGINT/SIGTERM set this (and mpirun's SIGCONT, below); long loops poll it and stop cleanly
/// at the next step.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0
/// The signal that set `stopRequested`, for the message.
nonisolated(unsafe) var stopSignal: sig_atomic_t = 0

/// Commands that stop cleanly on SIGINT/SIGTERM (train): `Launcher.main` calls this first
/// thing, before the OpenBLAS restart and before the flags are parsed and checked, so a signal
/// that comes while the process starts is kept for the first agreement on stopping
/// (`TrainingRun.agreeToStop`) instead of killing the rank half-way. Calling it again changes
/// nothing.
///
/// SIGCONT stops the run too, unless it resumes a stopped process. Open MPI's mpirun (4.1)
/// answers a SIGTERM or Ctrl-C by sending its ranks SIGCONT at once and SIGTERM only
/// `odls_base_sigkill_timeout` seconds later (SIGKILL as long again after that), so with the
/// 30-60 s a checkpoint needs (docs/cluster.md) the ranks trained on for that long, and a run
/// shorter than that finished as if never signalled (docs/faults.md, "Early signals"). A
/// process that was stopped (SIGSTOP, SIGTSTP, Slurm's suspend) cannot have updated its
/// heartbeat meanwhile, which tells mpirun's SIGCONT from a resume.
func installStopHandlers() {
    guard !stopHandlersInstalled else { return }
    stopHandlersInstalled = true
    signal(SIGINT) { _ in stopRequested = 1; stopSignal = SIGINT }
    signal(SIGTERM) { _ in stopRequested = 1; stopSignal = SIGTERM }
    heartbeat = monotonicNanoseconds()
    Thread.detachNewThread {
        while true {
            heartbeat = monotonicNanoseconds()
            usleep(100_000)
        }
    }
    signal(SIGCONT) { _ in
        if monotonicNanoseconds() - heartbeat < resumeThresholdNanoseconds, stopRequested == 0 {
            stopRequested = 1; stopSignal = SIGCONT
        }
    }
    // A blocked signal mask survives exec: a parent that blocks SIGTERM (a test runner, a
    // job wrapper) would leave the handlers above silent. Unblock them for this process.
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM, SIGCONT] { sigaddset(&set, s) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// Why the run stopped, for the message: "SIGTERM", "mpirun ending the job (SIGCONT)".
var stopReason: String {
    switch stopSignal {
    case SIGINT: "Ctrl-C"
    case SIGTERM: "SIGTERM"
    case SIGCONT: "SIGCONT: mpirun is ending the job"
    default: "asked by another rank"
    }
}

/// The subcommands that install the handlers before anything else runs.
let commandsStoppingCleanly: Set<String> = ["train"]

nonisolated(unsafe) private var stopHandlersInstalled = false
/// When the heartbeat thread last ran (CLOCK_MONOTONIC, ns); read in the SIGCONT handler.
nonisolated(unsafe) private var heartbeat: Int64 = 0
/// A heartbeat older than this at a SIGCONT means the process was stopped: a resume. The
/// thread beats every 0.1 s, and even a machine loaded tenfold wakes it well within 1 s.
private let resumeThresholdNanoseconds: Int64 = 1_000_000_000

/// CLOCK_MONOTONIC in nanoseconds (async-signal-safe).
private func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
