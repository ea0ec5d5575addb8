import CMalloc
import Foundation

/// One malloc arena for the whole process. glibc gives each thread that allocates its own
/// arena, and an arena keeps the pages of what it frees for its own thread's next request.
/// Our kernel workers allocate per call (oneDNN's converted activations and scratchpads,
/// attention scratch), so each worker's arena held its own high-water mark: one arena let
/// the seed preset's train step peak at 1804-1832 MiB instead of 1878-1901 (with
/// `MALLOC_ARENA_MAX=8`), at the same speed (`launcher bench model --preset seed`,
/// alternating runs, 2026-12-03). The workers
/// allocate a few large buffers per call, so sharing one lock costs nothing measurable.
/// Set before any thread starts; `MALLOC_ARENA_MAX` in the environment still wins.
enum MallocArenas {
    static func useOne() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }
}
