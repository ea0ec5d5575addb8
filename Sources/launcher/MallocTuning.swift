import CMalloc
import Foundation

/// glibc malloc's settings for this program (`ProcessTuning`), through `mallopt` (CMalloc).
enum MallocTuning {
    static func apply() {
        keepLargeBlocksOnTheHeap()
        useOneArena()
    }

    /// Activations are allocated and freed by the hundred per step, many of them 10-100 MB.
    /// glibc serves large blocks with a fresh mmap and unmaps them on free (and trims the heap
    /// top), so every step page-faults and zero-fills its whole working set again (~10% of a
    /// forward pass in perf). Keeping large blocks on the heap and not trimming it lets freed
    /// activations be reused as they are; the footprint stays at the step's high-water mark,
    /// which it reaches anyway.
    static func keepLargeBlocksOnTheHeap() {
        _ = mallopt(M_MMAP_MAX, 0)
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
    }

    /// One malloc arena for the whole process. glibc gives each thread that allocates its own
    /// arena, and an arena keeps the pages of what it frees for its own thread's next request.
    /// Our kernel workers allocate per call (oneDNN's converted activations and scratchpads,
    /// attention scratch), so each worker's arena held its own high-water mark: one arena let
    /// the seed preset's train step peak at 1804-1832 MiB instead of 1878-1901 (with
    /// `MALLOC_ARENA_MAX=8`), at the same speed (`launcher bench model --preset seed`,
    /// alternating runs, 2026-12-03). The workers allocate a few large buffers per call, so
    /// sharing one lock costs nothing measurable.
    /// Set before any thread starts; `MALLOC_ARENA_MAX` in the environment still wins.
    static func useOneArena() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }
}
