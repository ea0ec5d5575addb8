/// A NaN or infinity in a model's parameters (or in an optimizer buffer of the same layout):
/// saving it would replace a good file with a useless one, so every model and checkpoint save
/// checks first and leaves the previous file in place.
public struct NonFiniteParametersError: Error, CustomStringConvertible, Sendable {
    /// The file that was not written.
    public let path: String
    /// The buffer: "parameters", "adam.m" or "adam.v".
    public let tensor: String
    /// The parameter holding the first bad value, and the value's index within it.
    public let parameter: String
    public let index: Int
    public let value: Float

    public var description: String {
        "\(path): not written (the previous file is kept): \(tensor) of parameter \(parameter) holds \(value) "
            + "at index \(index); training diverged, try a lower --max-lr or --max-grad-norm"
    }
}

extension ParameterStore {
    /// The parameter whose values occupy flat index `i` of the store's layout.
    public func entry(containing i: Int) -> Entry? {
        // Entries are in increasing offset order: binary search for the last offset <= i.
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].offset <= i { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, i < entries[lo - 1].offset + entries[lo - 1].count else { return nil }
        return entries[lo - 1]
    }

    /// The first NaN or infinity in `buffer` (the store's layout and size): its parameter,
    /// its index within that parameter and the value.
    public func firstNonFinite(in buffer: UnsafePointer<Float>) -> (entry: Entry, index: Int, value: Float)? {
        for i in 0..<count where !buffer[i].isFinite {
            guard let e = entry(containing: i) else { continue }
            return (e, i - e.offset, buffer[i])
        }
        return nil
    }

    /// Throws if `buffer` (default: the values) holds a non-finite number; call before
    /// writing `path`.
    public func checkFinite(_ buffer: UnsafePointer<Float>? = nil, named tensor: String = "parameters",
                            before path: String) throws {
        if let bad = firstNonFinite(in: buffer ?? UnsafePointer(values)) {
            throw NonFiniteParametersError(path: path, tensor: tensor, parameter: bad.entry.name,
                                           index: bad.index, value: bad.value)
        }
    }
}
