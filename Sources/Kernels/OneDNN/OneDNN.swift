import CDNNL
import Foundation

/// The thin layer over oneDNN's C API (Debian's libdnnl 2.x, CPU engine) that the
/// convolutions use: the engine, memory descriptors, primitives and their execution.
package enum OneDNN {
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let status: dnnl_status_t
        var description: String { "oneDNN \(call) failed: \(String(cString: dnnl_status2str(status)))" }
    }

    static func check(_ status: dnnl_status_t, _ call: String) throws {
        if status != dnnl_success { throw Failure(call: call, status: status) }
    }

    /// The CPU engine, created once; nil when oneDNN cannot start one.
    final class Engine: @unchecked Sendable {
        let handle: dnnl_engine_t
        init(_ handle: dnnl_engine_t) { self.handle = handle }
    }
    static let engine: Engine? = {
        var e: dnnl_engine_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        return Engine(e)
    }()

    package static var isAvailable: Bool { engine != nil }

    /// True when oneDNN runs bf16 convolutions natively here: its CPU dispatcher reports at
    /// least AVX512-BF16 (on older CPUs Debian's 2.x build has no bf16 convolution at all).
    package static var hasNativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }

    /// True when oneDNN dispatches AVX-512 kernels (avx512_core or later).
    package static var hasAVX512: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let avx512 = dnnl_cpu_isa_avx512_core.rawValue
        return isa & avx512 == avx512
    }

    /// True when oneDNN dispatches AMX kernels (avx512_core_amx: the CPU lists AMX and Linux
    /// granted the tiles; `ONEDNN_MAX_CPU_ISA` can hold it below).
    package static var hasAMX: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let amx = dnnl_cpu_isa_avx512_core_amx.rawValue
        return isa & amx == amx
    }

    /// "avx2", "avx512_core_bf16", ...: the instruction set oneDNN's kernels were generated for.
    package static var isaName: String {
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return names.first { isa & $0.0.rawValue == $0.0.rawValue }?.1 ?? "unknown"
    }

    package static var versionDescription: String {
        guard let v = dnnl_version()?.pointee else { return "oneDNN" }
        return "oneDNN \(v.major).\(v.minor).\(v.patch) (\(isaName))"
    }

    /// OpenMP threads for oneDNN calls made from this thread (a per-thread setting in OpenMP).
    @inline(__always)
    static func useThreads(_ n: Int) {
        if omp_get_max_threads() != Int32(n) { omp_set_num_threads(Int32(n)) }
    }

    /// A plain (dense) memory descriptor.
    static func desc(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory_desc_init_by_tag")
        return md
    }

    /// A strided memory descriptor: element (i, j, ...) at sum of index times stride.
    static func desc(_ dims: [Int], _ type: dnnl_data_type_t, strides: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }, s = strides.map { Int64($0) }
        try check(dnnl_memory_desc_init_by_strides(&md, Int32(d.count), d, type, s), "memory_desc_init_by_strides")
        return md
    }

    static func same(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        withUnsafePointer(to: a) { pa in withUnsafePointer(to: b) { pb in dnnl_memory_desc_equal(pa, pb) != 0 } }
    }

    static func bytes(_ md: dnnl_memory_desc_t) -> Int {
        withUnsafePointer(to: md) { Int(dnnl_memory_desc_get_size($0)) }
    }

    /// One primitive and its descriptor, kept for the life of the process (see `PrimitiveCache`).
    /// Executing from several threads at once is safe: scratchpads are the caller's.
    final class Primitive: @unchecked Sendable {
        let pd: dnnl_primitive_desc_t
        let primitive: dnnl_primitive_t
        let scratchpad: dnnl_memory_desc_t
        var scratchpadBytes: Int { OneDNN.bytes(scratchpad) }

        /// `create` fills a primitive descriptor; the primitive is built from it.
        init(_ what: String, _ create: (inout dnnl_primitive_desc_t?) -> dnnl_status_t) throws {
            var pd: dnnl_primitive_desc_t?
            try check(create(&pd), what)
            guard let pd else { throw Failure(call: what, status: dnnl_runtime_error) }
            var p: dnnl_primitive_t?
            let status = dnnl_primitive_create(&p, pd)
            guard status == dnnl_success, let p else {
                dnnl_primitive_desc_destroy(pd)
                throw Failure(call: what + " (primitive_create)", status: status)
            }
            self.pd = pd; self.primitive = p
            scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!.pointee
        }

        deinit {
            dnnl_primitive_destroy(primitive)
            dnnl_primitive_desc_destroy(pd)
        }

        func md(_ query: dnnl_query_t) -> dnnl_memory_desc_t {
            dnnl_primitive_desc_query_md(pd, query, 0)!.pointee
        }

        /// A reorder (layout and/or type conversion) from `source` to `destination`; with
        /// `accumulate` it adds into the destination instead of overwriting it.
        convenience init(reorderFrom source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t,
                         accumulate: Bool = false) throws {
            guard let engine = OneDNN.engine?.handle else { throw Failure(call: "engine_create", status: dnnl_runtime_error) }
            let attr = try Attributes(accumulate: accumulate)
            var s = source, d = destination
            try self.init("reorder") { dnnl_reorder_primitive_desc_create(&$0, &s, engine, &d, engine, attr.handle) }
        }

        /// Runs the primitive on `arguments`, plus a scratchpad of `scratchpadBytes` when it
        /// needs one. Synchronous.
        func execute(_ arguments: [Argument],
                     scratchpad buffer: UnsafeMutableRawPointer?) {
            guard let engine = OneDNN.engine?.handle else { fatalError("oneDNN primitive without an engine") }
            var memories: [dnnl_memory_t] = []
            defer { for m in memories { dnnl_memory_destroy(m) } }
            var args: [dnnl_exec_arg_t] = []
            func add(_ id: Int32, _ md: dnnl_memory_desc_t, _ data: UnsafeRawPointer) {
                var m: dnnl_memory_t?
                var md = md
                let status = dnnl_memory_create(&m, &md, engine, UnsafeMutableRawPointer(mutating: data))
                guard status == dnnl_success, let m else { fatalError(Failure(call: "memory_create", status: status).description) }
                memories.append(m)
                args.append(dnnl_exec_arg_t(arg: id, memory: m))
            }
            for a in arguments { add(a.id, a.md, a.data) }
            if scratchpadBytes > 0 {
                guard let buffer else { fatalError("oneDNN primitive needs a \(scratchpadBytes)-byte scratchpad") }
                add(DNNL_ARG_SCRATCHPAD, scratchpad, buffer)
            }
            var stream: dnnl_stream_t?
            var status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
            guard status == dnnl_success, let stream else { fatalError(Failure(call: "stream_create", status: status).description) }
            defer { dnnl_stream_destroy(stream) }
            status = dnnl_primitive_execute(primitive, stream, Int32(args.count), args)
            if status == dnnl_success { status = dnnl_stream_wait(stream) }
            // A created primitive fails only on a broken setup (e.g. out of memory): no way on.
            if status != dnnl_success { fatalError(Failure(call: "primitive_execute", status: status).description) }
        }
    }

    private static let reported = PrimitiveCache<String, Void>()

    /// Says once per `what` on stderr that oneDNN has no primitive for it and our kernels run.
    static func reportOnce(_ what: String, _ error: Error) {
        _ = reported.value(what) {
            // Not FileHandle.write(_: Data): it traps when stderr cannot be written.
            try? FileHandle.standardError.write(contentsOf: Data("oneDNN: no \(what) (\(error)); using the Swift kernels\n".utf8))
        }
    }

    /// One buffer passed to a primitive: oneDNN's argument id, its layout, the data.
    struct Argument {
        let id: Int32, md: dnnl_memory_desc_t, data: UnsafeRawPointer
        init(_ id: Int32, _ md: dnnl_memory_desc_t, _ data: UnsafeRawPointer) { self.id = id; self.md = md; self.data = data }
    }

    /// Primitive attributes: the caller passes scratchpads; optionally a sum post-op, which
    /// adds the result to what the destination holds.
    final class Attributes {
        let handle: dnnl_primitive_attr_t
        init(accumulate: Bool) throws {
            var a: dnnl_primitive_attr_t?
            try check(dnnl_primitive_attr_create(&a), "primitive_attr_create")
            handle = a!
            try check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
            if accumulate {
                var po: dnnl_post_ops_t?
                try check(dnnl_post_ops_create(&po), "post_ops_create")
                defer { dnnl_post_ops_destroy(po) }
                try check(dnnl_post_ops_append_sum(po, 1), "post_ops_append_sum")
                try check(dnnl_primitive_attr_set_post_ops(handle, po), "set_post_ops")
            }
        }
        deinit { dnnl_primitive_attr_destroy(handle) }
    }
}

/// Primitives by key, built once on first use and kept: creating one costs far more than
/// running a small one. A key that failed to build is remembered too, so it is not retried.
final class PrimitiveCache<Key: Hashable, Value>: @unchecked Sendable {
    private var entries: [Key: Result<Value, Error>] = [:]
    // Recursive: building a backward primitive looks up the forward one it derives from.
    private let lock = NSRecursiveLock()

    func value(_ key: Key, _ build: () throws -> Value) -> Result<Value, Error> {
        lock.lock(); defer { lock.unlock() }
        if let hit = entries[key] { return hit }
        let made = Result { try build() }
        entries[key] = made
        return made
    }
}
