import Foundation

/// SIGINT/SIGTERM set this; long loops poll it and stop cleanly at the next step.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

/// Commands that stop cleanly on SIGINT/SIGTERM (train): `Launcher.main` calls this first
/// thing, before the OpenBLAS restart and before the flags are parsed and checked, so a signal
/// that comes while the process starts is kept for the first agreement on stopping
/// (`TrainingRun.agreeToStop`) instead of killing the rank half-way (docs/faults.md, "Early
/// signals"). Calling it again changes nothing.
func installStopHandlers() {
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
    // A blocked signal mask survives exec: a parent that blocks SIGTERM (a test runner, a
    // job wrapper) would leave the handlers above silent. Unblock both for this process.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// The subcommands that install the handlers before anything else runs.
let commandsStoppingCleanly: Set<String> = ["train"]
