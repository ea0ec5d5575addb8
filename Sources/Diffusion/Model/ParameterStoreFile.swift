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
        let file = try Safetensors(contentsOf: path)
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
}
