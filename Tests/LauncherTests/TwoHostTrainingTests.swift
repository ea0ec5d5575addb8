import Diffusion
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `launcher train` on two hosts for real, on one machine: two network namespaces joined by
/// a veth pair (scripts/netns-hosts), mpirun in the first starting Open MPI's daemon in each
/// through scripts/netns-rsh instead of ssh, the ranks talking TCP over the veth only.
/// Skipped (cancelled, with the reason) where namespaces cannot be made: not root, no `ip`,
/// or not permitted in this container.
@Suite(.serialized) struct TwoHostTrainingTests {
    static let steps = 3
    static let train = ["train", "--preset", "tiny", "--train-subset", "96", "--batch-size", "24", "--epochs", "2",
                        "--max-steps", "\(steps)", "--samples", "0", "--threads", "1"]

    @Test func twoNamespaceHostsTrainTheSameParametersAsOneRank() throws {
        let hosts = try NamespaceHosts.up()
        defer { hosts.down() }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("two-hosts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }

        let single = try MPIRun.launcher(Self.train + ["--out", base + "/single"], ranks: 1, timeout: 600)
        try #require(single.status == 0, "one rank: \(single.stderr)")

        let hostfile = base + "/hostfile"
        try hosts.names.map { "\($0) slots=1\n" }.joined().write(toFile: hostfile, atomically: true, encoding: .utf8)
        let sentBefore = try hosts.names.map(hosts.transmittedBytes)
        let two = try MPIRun.run(
            ["ip", "netns", "exec", hosts.names[0],
             "mpirun", "--hostfile", hostfile, "-np", "2", "--bind-to", "none",
             "--mca", "plm_rsh_agent", NamespaceHosts.script("netns-rsh"),
             "--mca", "btl", "self,tcp",
             "--mca", "btl_tcp_if_include", NamespaceHosts.subnet,
             "--mca", "oob_tcp_if_include", NamespaceHosts.subnet,
             // Open MPI 4.1's daemon maps its hwloc topology into a "hole" it picks in its
             // address space; here that crashed orted (SIGSEGV in hwloc_shmem_topology_write)
             // in about 1 of 6 runs. Without the shared topology it never did.
             "--mca", "rtc_hwloc_vmhole", "none",
             try MPIRun.launcherURL().path] + Self.train + ["--out", base + "/two"],
            timeout: 600)
        try #require(two.status == 0, "two hosts: status \(two.status)\nstdout:\n\(two.stdout)\nstderr:\n\(two.stderr)")
        #expect(two.stdout.contains("on 2 rank(s)"), "\(two.stdout)")

        // The gradients crossed the veth: each host sent at least half of every step's gradient
        // (a two-rank allreduce sends n/2 each way at the very least).
        let sent = try zip(hosts.names.map(hosts.transmittedBytes), sentBefore).map { $0 - $1 }
        let gradientBytes = UNetConfig.tiny.parameterCount * 4
        print("two hosts: bytes sent over the veth \(sent), gradient \(gradientBytes) bytes x \(Self.steps) steps")
        for (name, bytes) in zip(hosts.names, sent) {
            #expect(bytes >= gradientBytes * Self.steps / 2, "\(name) sent only \(bytes) bytes over veth0")
        }

        let a = try parameters(base + "/single"), b = try parameters(base + "/two")
        try #require(a.count == b.count && a.count == UNetConfig.tiny.parameterCount)
        let relative = relativeDifference(a, b)
        print("two hosts vs one rank: relative parameter difference \(relative)")
        #expect(relative < 1e-5)
    }

    func parameters(_ runDirectory: String) throws -> [Float] {
        try Safetensors(contentsOf: runDirectory + "/training_state.safetensors").tensor(named: "parameters").array
    }

    /// ‖a - b‖ / ‖a‖.
    func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) {
            num += Double(x - y) * Double(x - y); den += Double(x) * Double(x)
        }
        return (num / den).squareRoot()
    }
}

/// Two network namespaces made by scripts/netns-hosts, named after this test process
/// (fdt<pid>a, fdt<pid>b) so that concurrent test runs never share them, and
/// `scripts/netns-hosts clean` can find the ones a killed run left behind.
struct NamespaceHosts {
    let names: [String]
    static let subnet = "10.99.0.0/24"

    static let packageRoot: String = {
        var url = URL(fileURLWithPath: "\(#filePath)")
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/LauncherTests/<file>
        return url.path
    }()

    static func script(_ name: String) -> String { packageRoot + "/scripts/" + name }

    /// Creates the pair, or cancels the running test when this machine cannot (exit status 77).
    static func up() throws -> NamespaceHosts {
        let names = ["fdt\(getpid())a", "fdt\(getpid())b"]
        let run = try MPIRun.run([script("netns-hosts"), "up"] + names, timeout: 60)
        if run.status == 77 {
            try Test.cancel("no network namespaces here: \(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard run.status == 0 else {
            throw MPIRun.Failure(description: "scripts/netns-hosts up \(names.joined(separator: " ")) failed "
                                 + "(status \(run.status)): \(run.stderr)")
        }
        return NamespaceHosts(names: names)
    }

    /// Ends what runs inside and deletes both namespaces (their veth ends go with them).
    func down() {
        _ = try? MPIRun.run([Self.script("netns-hosts"), "down"] + names, timeout: 60)
    }

    /// Bytes sent so far from `namespace` over its end of the veth.
    func transmittedBytes(_ namespace: String) throws -> Int {
        let run = try MPIRun.run(["ip", "netns", "exec", namespace, "cat", "/sys/class/net/veth0/statistics/tx_bytes"])
        guard run.status == 0, let bytes = Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw MPIRun.Failure(description: "cannot read veth0's tx_bytes in \(namespace): \(run.stderr)")
        }
        return bytes
    }
}
