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
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = String(cString: strerror(errno))
        FileHandle.standardError.write(Data(
            "note: OpenBLAS chose its \(BLAS.coreName) kernels for this CPU; restarting with OPENBLAS_CORETYPE=\(core) failed (\(reason)), going on with them\n".utf8))
    }
}
