import Diffusion
import Distributed
import Foundation

/// Diffusion knows nothing of MPI; this adapts the world communicator to what training,
/// sampling and statistics need from a process group.
extension Communicator: Collectives {
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try allreduce(buffer, op: .sum) }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { try allreduce(buffer, op: .sum) }
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
        try iallreduce(buffer, op: .sum)
    }
    // broadcast(_:root:) and setStallContext(step:part:) are witnessed by Communicator's generic broadcast.
    public func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], root: Int) throws -> [Float] {
        try gatherv(local, counts: counts, root: root)
    }
}

extension PendingRequest: PendingCollective {}

extension Communicator {
    /// Kernel threads per rank: `requested`, or this host's cores shared by the ranks on it.
    /// Also keeps OpenBLAS single-threaded (our kernels do the threading).
    func configureThreads(requested: Int?) throws -> Int {
        let hosts = try allgatherHosts()
        let sameHost = hosts.filter { $0 == processorName }.count
        let threads = requested ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(sameHost, 1))
        BLAS.configure(threads: threads)
        return threads
    }

    private func allgatherHosts() throws -> [String] {
        // gather to root, then broadcast the joined list: every rank learns every host.
        let hosts = try gather(processorName)
        var joined = hosts.joined(separator: "\n")
        try broadcast(&joined)
        return joined.split(separator: "\n").map(String.init)
    }
}
