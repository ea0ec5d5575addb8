import Diffusion
import Testing

/// The `communicator-checks` test harness under mpirun: every operation across real ranks, with
/// exact expected results computed on each rank.
@Suite(.serialized) struct MultiRankTests {
    static let checks = [
        "world", "allgather", "barrier", "wtime",
        "broadcast.float", "broadcast.double.root-last", "broadcast.int64", "broadcast.uint8",
        "broadcast.array.float", "broadcast.array.double.root-last", "broadcast.int",
        "broadcast.string.root-last",
        "allreduce.float.sum", "allreduce.double.max", "allreduce.int64.min", "allreduce.scalar",
        "allreduceAverage.float", "allreduceAverage.double", "allreduceAverage.scalar",
        "reduce.float.sum", "reduce.int64.max.root-last",
        "gatherv.float", "gatherv.double.empty-rank.root-last", "gather.string",
        "iallreduce.float", "iallreduce.double.max",
        "error.invalid-root", "error.gatherv-counts",
        "finalize",
    ]

    @Test("communicator-checks", arguments: [
        (1, nil, false), (2, nil, false), (3, nil, false),
        (2, 3, false), (3, 2, false),  // small chunk limits: every buffer goes in several MPI calls
        (2, nil, true), (3, 2, true),  // the stall check on: watched nonblocking collectives
    ] as [(Int, Int?, Bool)])
    func checkCommunicator(ranks: Int, maxChunk: Int?, stallWatch: Bool) throws {
        let arguments = (maxChunk.map { ["--max-chunk", "\($0)"] } ?? []) + (stallWatch ? ["--stall-watch", "60"] : [])
        let run = try MPIRun.product("communicator-checks", arguments, ranks: ranks)
        #expect(run.status == 0, "stdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
        let lines = Set(run.lines)
        for name in Self.checks {
            #expect(lines.contains("ok \(name)"), "no 'ok \(name)' at \(ranks) ranks:\n\(run.stdout)")
        }
        #expect(!run.stdout.contains("FAIL"), "\(run.stdout)")
    }

    @Test("abort on one rank ends every rank")
    func abortEndsTheJob() throws {
        let run = try MPIRun.product("communicator-checks", ["--abort-on-rank", "1"], ranks: 2, timeout: 60)
        #expect(run.status != 0)
        #expect(run.stderr.contains("error: communicator-checks: abort requested on rank 1 (rank 1 of 2)"),
                "stderr:\n\(run.stderr)")
    }

    @Test("launcher info gathers every rank's host")
    func info() throws {
        let run = try MPIRun.launcher(["info"], ranks: 2)
        #expect(run.status == 0, "stderr:\n\(run.stderr)")
        #expect(run.lines.contains("ranks: 2"), "\(run.stdout)")
        #expect(run.lines.contains { $0.hasPrefix("  rank 1: ") }, "\(run.stdout)")
        #expect(run.lines.contains { $0.hasPrefix("zlib: ") }, "\(run.stdout)")
        // A CPU OpenBLAS does not know gets the kernels its vector instructions allow, not
        // OpenBLAS's SSE3 fallback (this process, started without the launcher, shows which).
        let core = BLAS.preferredCoreTypeHere ?? BLAS.coreName
        #expect(run.lines.contains { $0.hasPrefix("BLAS: ") && $0.contains(" \(core) ") }, "expected \(core): \(run.stdout)")
        let kernels = KernelPath.avx512Available ? "kernels: AVX-512" : "kernels: Swift/AVX2"
        #expect(run.lines.contains { $0.hasPrefix(kernels) }, "expected '\(kernels)': \(run.stdout)")
        // oneDNN with Winograd where the CPU has AVX-512, our kernels elsewhere.
        let convolutions = OneDNN.isAvailable && OneDNN.hasAVX512 ? "convolutions: onednn fp32 winograd" : "convolutions: swift"
        #expect(run.lines.contains { $0.hasPrefix(convolutions) }, "expected '\(convolutions)': \(run.stdout)")
        // What the machine is, AMX only where this process may use it, and what auto picks.
        let cpu = run.lines.first { $0.hasPrefix("cpu: ") } ?? ""
        #expect(cpu.contains(" family ") && cpu.contains(ConvolutionBackend.oneDNNDescription), "\(run.stdout)")
        #expect(cpu.contains("amx_bf16") == ArithmeticPeak.Loop.amxbf16.isSupported, "\(cpu)")
        #expect(run.lines.contains { $0.hasPrefix("--precision auto, preset small (") }, "\(run.stdout)")
        #expect(run.lines.contains { $0.hasPrefix("  training: fp32: ") || $0.hasPrefix("  training: bf16: ") }, "\(run.stdout)")
    }
}
