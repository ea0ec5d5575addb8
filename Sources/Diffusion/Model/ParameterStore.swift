/// All parameters of a model in one flat Float32 buffer, and their gradients in another of
/// the same layout. One buffer makes data-parallel training simple: gradients are
/// allreduced as a few large contiguous buckets and Adam is one loop.
///
/// Parameters are registered in forward order, so the backward pass fills the gradient
/// buffer roughly from the end towards the start.
public final class ParameterStore {
    /// How a tensor is laid out inside the store, versus PyTorch's layout in files.
    public enum Layout: Sendable {
        /// Same as PyTorch (vectors, Linear weights [out, in]).
        case plain
        /// Convolution weight kept as [kh, kw, in, out] (im2col order); PyTorch's is [out, in, kh, kw].
        case convHWIO
    }

    public struct Entry: Sendable {
        public let name: String
        /// PyTorch shape, as in diffusers' state dict.
        public let shape: [Int]
        public let layout: Layout
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    public private(set) var count = 0
    public private(set) var values: UnsafeMutablePointer<Float>
    public private(set) var grads: UnsafeMutablePointer<Float>
    private var index: [String: Int] = [:]

    public init() {
        values = .allocate(capacity: 1)
        grads = .allocate(capacity: 1)
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    /// Registers a tensor and returns its offset. Call only while the model is being built,
    /// then `allocate()` once.
    public func register(_ name: String, shape: [Int], layout: Layout = .plain) -> Int {
        precondition(index[name] == nil, "parameter \(name) registered twice")
        precondition(!allocated, "parameter \(name) registered after allocation")
        let e = Entry(name: name, shape: shape, layout: layout, offset: count)
        index[name] = entries.count
        entries.append(e)
        count += e.count
        return e.offset
    }

    /// Allocates the zeroed value and gradient buffers for everything registered.
    public func allocate() {
        precondition(!allocated)
        values.deallocate(); grads.deallocate()
        values = .allocate(capacity: max(count, 1))
        grads = .allocate(capacity: max(count, 1))
        values.initialize(repeating: 0, count: max(count, 1))
        grads.initialize(repeating: 0, count: max(count, 1))
        allocated = true
    }
    private var allocated = false

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    public func zeroGrads() { grads.update(repeating: 0, count: count) }

    /// The store's memory: valid only while the store lives. Swift may release a temporary
    /// (`load(...).store.valueBuffer`) before the pointer is used; copy with `valueArray`.
    public var valueBuffer: UnsafeMutableBufferPointer<Float> { .init(start: values, count: count) }
    public var gradBuffer: UnsafeMutableBufferPointer<Float> { .init(start: grads, count: count) }

    /// A copy of every value, made while `self` is alive (AddressSanitizer found a test that
    /// read `valueBuffer` of a model already freed).
    public var valueArray: [Float] { Array(UnsafeBufferPointer(start: values, count: count)) }

    /// The tensor in PyTorch layout (a copy).
    public func exportTensor(_ e: Entry, from base: UnsafeMutablePointer<Float>? = nil) -> Tensor {
        let src = (base ?? values) + e.offset
        let t = Tensor(uninitialized: e.shape)
        switch e.layout {
        case .plain:
            t.data.update(from: src, count: e.count)
        case .convHWIO:
            let (o, i, kh, kw) = (e.shape[0], e.shape[1], e.shape[2], e.shape[3])
            for co in 0..<o { for ci in 0..<i { for y in 0..<kh { for x in 0..<kw {
                t.data[((co * i + ci) * kh + y) * kw + x] = src[((y * kw + x) * i + ci) * o + co]
            } } } }
        }
        return t
    }

    /// Sets the tensor from PyTorch layout. The caller has checked the shape.
    public func importTensor(_ e: Entry, from t: Tensor, into base: UnsafeMutablePointer<Float>? = nil) {
        precondition(t.shape == e.shape, "\(e.name): shape \(t.shape), expected \(e.shape)")
        let dst = (base ?? values) + e.offset
        switch e.layout {
        case .plain:
            dst.update(from: t.data, count: e.count)
        case .convHWIO:
            let (o, i, kh, kw) = (e.shape[0], e.shape[1], e.shape[2], e.shape[3])
            for co in 0..<o { for ci in 0..<i { for y in 0..<kh { for x in 0..<kw {
                dst[((y * kw + x) * i + ci) * o + co] = t.data[((co * i + ci) * kh + y) * kw + x]
            } } } }
        }
    }
}
