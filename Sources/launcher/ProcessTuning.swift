/// What the launcher sets about its own process, first thing in `main`: before any of our
/// threads starts (malloc's settings are read when a thread first allocates) and before MPI
/// is initialised (the OpenBLAS restart replaces the process). Each setting's why is with it.
enum ProcessTuning {
    static func apply() {
        MallocTuning.apply()
        BLASCoreChoice.restartWithPreferredCoreIfNeeded()
    }
}
