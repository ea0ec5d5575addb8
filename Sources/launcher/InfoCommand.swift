import ArgumentParser
import Diffusion
import Distributed
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the ranks and their hosts, BLAS threads, library versions and the data files.")

    @Option(help: "Folder holding the Fashion-MNIST .gz files.")
    var dataDir = "/usr/share/datasets/fashion-mnist"

    @Option(help: "Model preset whose `--precision auto` choice to show (timed on rank 0's threads, or read from the cache).")
    var preset: ModelPreset = .small

    static let dataFiles = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

    func run() throws {
        try runOnWorld(agreeing: agreedFields(command: "info")) { comm in
            let hosts = try comm.gather(comm.processorName)
            let cores = try comm.allgather(ProcessInfo.processInfo.activeProcessorCount)
            guard comm.isRoot else { return }

            print("ranks: \(comm.size)")
            // Ranks sharing a host share its cores: each gets cores / ranks-on-host BLAS threads.
            let neighbours = hosts.map { host in hosts.filter { $0 == host }.count }
            let threads = hosts.indices.map { max(1, cores[$0] / neighbours[$0]) }
            for (rank, host) in hosts.enumerated() {
                print("  rank \(rank): \(host), \(cores[rank]) cores for \(neighbours[rank]) rank(s), BLAS threads \(threads[rank])")
            }
            print("BLAS: \(BLAS.configDescription)")
            print("cpu: \(MachineSignature.current().description)")
            print("kernels: \(KernelPath.description)")
            let convolutions = ConvolutionBackend.resolve(.automatic(.fp32, .winograd)).backend
            print("convolutions: \(convolutions) by default (\(ConvolutionBackend.oneDNNDescription))")
            let (choice, source, notes) = Parallel.withThreads(threads[0]) {
                PrecisionChoice.cachedOrMeasured(config: preset.benchmarkConfig, .auto, .winograd)
            }
            for note in notes { print("  note: \(note)") }
            print("--precision auto, preset \(preset.rawValue) (\(source)):")
            print("  training: \(choice.explanation(for: .training))")
            print("  sampling: \(choice.explanation(for: .sampling))")
            let mpiVersion = Communicator.libraryVersion.split(separator: "\n").first ?? ""
            print("MPI: \(mpiVersion.trimmingCharacters(in: .whitespaces))")
            print("zlib: \(Versions.zlib)")
            print("data: \(dataDir)")
            for name in Self.dataFiles {
                let path = (dataDir as NSString).appendingPathComponent(name)
                if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int {
                    print("  \(name)  \(size) bytes")
                } else {
                    print("  \(name)  missing")
                }
            }
        }
    }
}
