import Foundation
import Testing

/// One mpirun whose ranks were started with different options (MPMD: `mpirun -np 1 A : -np 1 B`)
/// ends within seconds with an error on every rank naming the option, never a hang or a
/// silent mix, for every command that runs on several ranks.
@Suite(.serialized) struct RankMismatchTests {
    static let trainBase = ["train", "--preset", "tiny", "--train-subset", "96", "--batch-size", "24", "--max-steps", "1",
                            "--samples", "0", "--threads", "1"]

    /// (rank 0's arguments, rank 1's, the option that differs)
    static let cases: [([String], [String], String)] = [
        (trainBase + ["--seed", "1"], trainBase + ["--seed", "2"], "--seed"),
        (trainBase + ["--train-subset", "48"], trainBase, "--train-subset"),
        (trainBase + ["--bucket-mib", "1"], trainBase + ["--bucket-mib", "2"], "--bucket-mib"),
        (trainBase + ["--samples", "4"], trainBase, "--samples"),
        (trainBase + ["--sampler", "ddim"], trainBase, "--sampler"),
        (trainBase + ["--backend", "onednn"], trainBase, "--backend"),
        (trainBase + ["--conv-algorithm", "direct"], trainBase, "--conv-algorithm"),
        (["sample", "--model", "m", "--sampler", "ddpm"], ["sample", "--model", "m", "--sampler", "ddim"], "--sampler"),
        (["sample", "--model", "m", "--n", "4"], ["sample", "--model", "m", "--n", "8"], "--n"),
        (["fid", "--samples", "real:test", "--kid-subsets", "10"], ["fid", "--samples", "real:test", "--kid-subsets", "20"],
         "--kid-subsets"),
        (["compare-samplers", "--model", "m", "--only", "ddpm-recipe"], ["compare-samplers", "--model", "m", "--only", "ddim-10"], "--only"),
        (["bench", "train", "--bucket-mib", "1"], ["bench", "train", "--bucket-mib", "2"], "--bucket-mib"),
        (["bench", "sample", "--n", "4"], ["bench", "sample", "--n", "8"], "--n"),
        (["train-classifier", "--seed", "1"], ["train-classifier", "--seed", "2"], "--seed"),
        (["train"], ["sample", "--model", "m"], "command: train on rank 0, sample on this rank"),
    ]

    @Test(arguments: cases)
    func everyRankFailsNamingTheOption(first: [String], second: [String], option: String) throws {
        let launcher = try MPIRun.launcherURL().path
        let run = try MPIRun.run(["mpirun", "--oversubscribe", "--bind-to", "none", "-np", "1", launcher] + first
                                 + [":", "-np", "1", launcher] + second, timeout: 60)
        #expect(run.status != 0)
        for rank in 0..<2 {
            let line = run.stderr.split(separator: "\n").first { $0.hasSuffix("(rank \(rank) of 2)") }
            #expect(line?.contains("ranks were started with different options") == true, "rank \(rank):\n\(run.stderr)")
        }
        #expect(run.stderr.contains(option), "\(run.stderr)")
    }
}
