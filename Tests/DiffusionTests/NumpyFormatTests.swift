import Diffusion
import Foundation
import Testing

@Suite(".npy and .npz")
struct NumpyFormatTests {
    let f4 = NumpyArray(shape: [2, 3, 4], float32: (0..<24).map { Float($0) * 0.5 - 3 })
    let f8 = NumpyArray(shape: [5], float64: [0, 1.0 / 3, -2.5e300, .pi, Double.leastNonzeroMagnitude * 3])
    let scalar = NumpyArray(shape: [], float64: [42])
    let empty = NumpyArray(shape: [0, 3], float32: [])

    @Test func npyRoundTrip() throws {
        for array in [f4, f8, scalar, empty] {
            let bytes = NPY.encode(array)
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            #expect((10 + headerLength) % 64 == 0, "data aligned to 64 bytes")
            #expect(bytes[10 + headerLength - 1] == 0x0A, "header ends with a newline")
            #expect(try NPY.decode(bytes, name: "x.npy") == array)
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tensor = Tensor(shape: [2, 2, 1], values: [1, 2, 3, 4])
        try NPY.write(tensor, to: dir + "/t.npy")
        let back = try NPY.read(dir + "/t.npy")
        #expect(back.shape == [2, 2, 1] && back.floats == [1, 2, 3, 4] && back.descr == "<f4")
        #expect(back.tensor().array == tensor.array)
    }

    @Test func npyHeaderText() {
        let bytes = NPY.encode(f4)
        let header = String(decoding: bytes[10..<(10 + Int(bytes[8]))], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"))
        let one = NPY.encode(f8)
        #expect(String(decoding: one[10..<(10 + Int(one[8]))], as: UTF8.self).contains("'shape': (5,)"))
    }

    @Test func npyReaderErrorsNameTheFile() throws {
        let good = NPY.encode(f4)
        func message(_ bytes: [UInt8]) -> String? {
            do { _ = try NPY.decode(bytes, name: "/data/samples.npy"); return nil }
            catch { return (error as? FileError)?.description }
        }
        func replacing(_ old: String, _ new: String) -> [UInt8] {
            // Same-length edits inside the (ASCII) header, bytes elsewhere untouched.
            let o = Array(old.utf8), n = Array(new.utf8)
            precondition(o.count == n.count)
            var bytes = good
            let at = (0...(bytes.count - o.count)).first { Array(bytes[$0..<($0 + o.count)]) == o }!
            bytes.replaceSubrange(at..<(at + o.count), with: n)
            return bytes
        }
        let cases: [(String, [UInt8], String)] = [
            ("magic", [0x93] + Array("NUMPX".utf8) + good.dropFirst(6), "magic"),
            ("dtype", replacing("'<f4'", "'<i4'"), "'<i4'"),
            ("fortran", replacing("False", "True "), "fortran_order"),
            ("short data", Array(good.dropLast(4)), "needs 96 data bytes, found 92"),
            ("long data", good + [0, 0, 0, 0], "needs 96 data bytes, found 100"),
            ("shape", replacing("(2, 3, 4)", "(2, 3, 5)"), "needs 120 data bytes"),
            ("truncated header", Array(good.prefix(40)), "truncated .npy header"),
            ("version", Array(good.prefix(6)) + [9] + good.dropFirst(7), "version 9"),
        ]
        for (label, bytes, fragment) in cases {
            let m = message(bytes)
            #expect(m?.contains("/data/samples.npy") == true, "\(label): \(m ?? "no error")")
            #expect(m?.contains(fragment) == true, "\(label): \(m ?? "no error")")
        }
    }

    @Test func npzRoundTripAndZipStructure() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mu = NumpyArray(shape: [3], float64: [0.5, -1, 2])
        let sigma = NumpyArray(shape: [3, 3], float64: [1, 0.1, 0.2, 0.1, 2, 0.3, 0.2, 0.3, 3])
        let path = dir + "/stats.npz"
        try NPZ.write([("mu", mu), ("sigma", sigma), ("samples", f4)], to: path)
        let back = try NPZ.read(path)
        #expect(back.map(\.name) == ["mu", "sigma", "samples"])
        #expect(back.map(\.array) == [mu, sigma, f4])
        #expect(try NPZ.readDictionary(path)["sigma"] == sigma)
        // Python's zipfile (stdlib) checks the headers and every member's CRC.
        let zip = try #require(try Python.json("check_formats.py", ["zip", path]) as? [String: Any])
        #expect(zip["bad"] is NSNull, "zipfile.testzip found a bad member: \(String(describing: zip["bad"]))")
        let members = try #require(zip["members"] as? [[String: Any]])
        #expect(members.compactMap { $0["name"] as? String } == ["mu.npy", "sigma.npy", "samples.npy"])
        #expect(members.allSatisfy { ($0["method"] as? NSNumber)?.intValue == 0 }, "stored, not compressed")
    }

    @Test func npzDamageIsReported() throws {
        var bytes = try NPZ.encode([("mu", NumpyArray(shape: [2], float64: [1, 2]))])
        bytes[30 + 6 + 128 + 3] ^= 0xff  // a data byte of mu.npy (30-byte header, "mu.npy", 128-byte npy header)
        let e = #expect(throws: FileError.self) { try NPZ.decode(bytes, name: "/x/stats.npz") }
        #expect(e?.description.contains("/x/stats.npz:mu.npy") == true && e?.description.contains("CRC") == true)
        #expect(throws: FileError.self) { try NPZ.decode(Array(bytes.prefix(50)), name: "/x/stats.npz") }
    }

    @Test(.enabled(if: Python.hasNumpy, "numpy is not importable: skipping the NumPy compatibility checks"))
    func numpyReadsOurFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NPY.write(f4, to: dir + "/a.npy")
        try NPY.write(f8, to: dir + "/b.npy")
        try NPZ.write([("mu", f8), ("sigma", f4)], to: dir + "/c.npz")
        let out = try #require(try Python.json("numpy_check.py", ["read", dir + "/a.npy", dir + "/b.npy", dir + "/c.npz"]) as? [String: [String: [String: Any]]])
        func check(_ d: [String: Any]?, _ array: NumpyArray) {
            #expect(d?["dtype"] as? String == array.descr)
            #expect(ints(d?["shape"]) == array.shape)
            #expect(doubles(d?["values"]) == array.doubles)
        }
        check(out[dir + "/a.npy"]?[""], f4)
        check(out[dir + "/b.npy"]?[""], f8)
        check(out[dir + "/c.npz"]?["mu"], f8)
        check(out[dir + "/c.npz"]?["sigma"], f4)
    }

    @Test(.enabled(if: Python.hasNumpy, "numpy is not importable: skipping the NumPy compatibility checks"))
    func weReadNumpysFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Python.run("numpy_check.py", ["write", dir])
        try #require(out.status == 0, "numpy_check.py write failed: \(out.stderr)")
        let a = try NPY.read(dir + "/np_f4.npy")
        #expect(a == NumpyArray(shape: [2, 3, 4], float32: (0..<24).map { Float($0) * 0.5 - 3 }))
        let b = try NPY.read(dir + "/np_f8.npy")
        #expect(b == NumpyArray(shape: [5], float64: (0..<5).map { Double($0) / 3 }))
        let mu = NumpyArray(shape: [4], float64: (0..<4).map { Double($0) / 7 })
        let sigma = NumpyArray(shape: [4, 4], float64: (0..<16).map { $0 % 5 == 0 ? 2.25 : 0.25 })
        for file in ["np_stats.npz", "np_stats_compressed.npz"] {
            let stats = try NPZ.readDictionary(dir + "/" + file)
            #expect(stats["mu"] == mu, "\(file)")
            #expect(stats["sigma"] == sigma, "\(file)")
        }
    }
}
