/// A whole `ParameterStore` to and from one safetensors file, in PyTorch names and layouts.
/// Shared by the U-Net (diffusers folders) and the classifier.
extension ParameterStore {
    /// Every parameter in PyTorch layout, in registration order.
    public func exportedTensors() -> [(name: String, tensor: Tensor)] {
        entries.map { (name: $0.name, tensor: exportTensor($0)) }
    }

    /// Loads every parameter from `path`, checking that the file has exactly the tensors this
    /// store holds, each with the right shape and finite values.
    public func load(safetensors path: String) throws {
        try load(try Safetensors(contentsOf: path))
    }

    /// Loads every parameter from an opened safetensors file (see `load(safetensors:)`).
    public func load(_ file: Safetensors) throws {
        let path = file.path
        let expected = Set(entries.map(\.name))
        let missing = entries.map(\.name).filter { !file.contains($0) }
        let unexpected = file.names.filter { !expected.contains($0) }
        if !missing.isEmpty || !unexpected.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) tensor(s) the config needs: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", ..." : "")") }
            if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected tensor(s): \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? ", ..." : "")") }
            throw FileError(path: path, parts.joined(separator: "; ") + " (does config.json match these weights?)")
        }
        for e in entries {
            let t = try file.tensor(named: e.name)
            guard t.shape == e.shape else {
                throw FileError(path: path, "tensor \(e.name) has shape \(t.shape), the config needs \(e.shape)")
            }
            for i in 0..<t.count where !t[i].isFinite {
                throw FileError(path: path, "tensor \(e.name) holds a non-finite value (\(t[i])) at flat index \(i)")
            }
            importTensor(e, from: t)
        }
    }

    /// Throws if a model of `count` parameters is large (over `unconditionalCount`) and
    /// `file` holds fewer values: checked before a model is built from a config.json, so a
    /// config asking for a huge model next to small weights is an error instead of an
    /// allocation the weights could never fill. Smaller models are built and then checked
    /// tensor by tensor, which names the tensors that differ.
    public static func checkCapacity(_ file: Safetensors, for count: Int, config: String) throws {
        let held = file.tensors.reduce(0) { $0 &+ $1.elementCount }
        guard count <= max(held, unconditionalCount) else {
            throw FileError(path: file.path, "holds \(held) values, but \(config) describes a model of \(count) parameters: "
                            + "expected the weights of that model (does \(config) match these weights?)")
        }
    }

    /// Models up to this many parameters (64 MB) are built before their weights are checked.
    public static let unconditionalCount = 1 << 24
}
