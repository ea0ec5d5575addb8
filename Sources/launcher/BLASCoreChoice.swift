import Foundation
import Kernels

/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads (before `main`), so a
/// better kernel set for a CPU it does not recognise (see `BLAS.preferredCoreType`) takes
/// a fresh start of this same program: set the variable and exec ourselves, before MPI is
/// initialised (under mpirun the process keeps its pid and environment). The variable stays
/// set, so this happens at most once; if exec fails the run goes on with OpenBLAS's choice.
enum BLASCoreChoice {
    static func restartWithPreferredCoreIfNeeded() {
        guard let core = BLAS.preferredCoreTypeHere else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let failure = restart()
        FileHandle.standardError.write(Data(
            "note: OpenBLAS chose its \(BLAS.coreName) kernels for this CPU; restarting with OPENBLAS_CORETYPE=\(core) failed (\(failure)), going on with them\n".utf8))
    }

    /// Execs this program again with the same arguments; returns only if that failed, with why.
    /// The path is the executable's own, not /proc/self/exe: the kernel names a process after
    /// the file it execs, so through /proc/self/exe every rank would show up in ps, top and
    /// Slurm as "exe" instead of "launcher". argv[0] is passed on as it was.
    static func restart() -> String {
        guard let path = executablePath() else { return "cannot read /proc/self/exe" }
        execv(path, CommandLine.unsafeArgv)
        return "\(path): \(String(cString: strerror(errno)))"
    }

    /// The file this process runs, from /proc/self/exe (Linux), or nil.
    static func executablePath() -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }
}
