import Foundation

/// Everything needed to continue a run exactly: parameters, Adam's moments, the step, the
/// options and the model config. One safetensors file, written atomically, so a crash or kill
/// leaves either the previous state or the new one, never a mix.
///
/// The step alone fixes the rest: the epoch's order, the position in it, each sample's noise
/// and the learning rate are all functions of (seed, step) — see `Trainer`.
public enum TrainingCheckpoint {
    public static let fileName = "training_state.safetensors"

    public static func save(_ trainer: Trainer, to path: String) throws {
        try checkFinite(trainer, before: path)
        let store = trainer.model.store
        func flat(_ p: UnsafeMutablePointer<Float>) -> Tensor {
            let t = Tensor(uninitialized: [store.count])
            t.data.update(from: p, count: store.count)
            return t
        }
        let options = trainer.options.canonicalJSON
        try Safetensors.write([
            (name: "parameters", tensor: flat(store.values)),
            (name: "adam.m", tensor: flat(trainer.adam.m)),
            (name: "adam.v", tensor: flat(trainer.adam.v)),
        ] + (trainer.ema.map { [(name: "ema", tensor: flat($0.shadow))] } ?? []), metadata: [
            "step": String(trainer.step),
            "options": options,
            "config": trainer.model.config.toJSON(),
        ], to: path)
    }

    /// Throws `NonFiniteParametersError` naming the first NaN or infinity in the parameters or
    /// Adam's moments; `path` is the file that will then not be written.
    public static func checkFinite(_ trainer: Trainer, before path: String) throws {
        let store = trainer.model.store
        try store.checkFinite(before: path)
        try store.checkFinite(trainer.adam.m, named: "adam.m", before: path)
        try store.checkFinite(trainer.adam.v, named: "adam.v", before: path)
        if let ema = trainer.ema { try store.checkFinite(ema.shadow, named: "ema", before: path) }
    }

    public struct State {
        public let step: Int
        public let options: TrainingOptions
        public let config: UNetConfig
        public let parameters: Tensor, adamM: Tensor, adamV: Tensor
        /// The EMA of the parameters; present exactly when `options.emaDecay` is set.
        public let ema: Tensor?
    }

    /// Reads and checks a state file (it must come from this project's `save`).
    public static func load(from path: String) throws -> State {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch let failure as FileError {
            throw SafetensorsError(.io, path: path, expected: "a readable file", found: failure.message)
        }
        return try load(bytes: bytes, path: path)
    }

    /// Parses and checks the bytes of a state file; `path` is only used in errors.
    public static func load(bytes: [UInt8], path: String) throws -> State {
        let file = try Safetensors(bytes: bytes, path: path)
        func meta(_ key: String) throws -> String {
            guard let v = file.metadata[key] else {
                throw FileError(path: path, "metadata field '\(key)' missing: expected a training state written by `launcher train`")
            }
            return v
        }
        guard let step = Int(try meta("step")), step >= 0 else {
            throw FileError(path: path, "metadata field 'step' is '\(file.metadata["step"] ?? "")', expected a non-negative integer")
        }
        let options: TrainingOptions
        do { options = try TrainingOptions(json: try meta("options")) } catch let e as FileError { throw e } catch {
            throw FileError(path: path, "metadata field 'options' is not valid training options (\(error)): "
                            + "expected the options JSON `launcher train` writes")
        }
        // The same range checks as `launcher train`'s flags: a damaged or hand-edited state must
        // not reach the schedules' preconditions or divide by a zero batch size.
        do { try options.validate(name: { "options field '\($0)'" }) } catch {
            throw FileError(path: path, "metadata \(error); expected options in the ranges `launcher train` accepts")
        }
        let config = try UNetConfig(json: Array(try meta("config").utf8), path: path + " (metadata 'config')")
        // A conditional run's options and its model's class table must agree (and an unconditional run has none).
        try options.checkConditioning(config, source: path + " (metadata 'config' against 'options')")
        // Counted in closed form: listing the parameters of a tampered config could exhaust memory.
        let count = config.checkedParameterCount.value ?? -1
        func vector(_ name: String) throws -> Tensor {
            guard file.contains(name) else {
                throw FileError(path: path, "tensor '\(name)' missing: expected parameters, adam.m and adam.v"
                                + (options.emaDecay != nil ? ", and ema (its options have emaDecay \(options.emaDecay!))" : ""))
            }
            let info = try file.info(named: name)
            // Checked before converting, so a wrong size never allocates.
            guard info.shape == [count] else {
                throw FileError(path: path, "tensor '\(name)' has shape \(info.shape), expected [\(count)] for the model in its config")
            }
            let t = try file.tensor(named: name)
            // Adam's second moment is a running mean of squares: never negative.
            let valid: (Float) -> Bool = name == "adam.v" ? { $0.isFinite && $0 >= 0 } : { $0.isFinite }
            if let bad = (0..<t.count).first(where: { !valid(t[$0]) }) {
                let parameter = try UNet2DModel(config: config).store.entry(containing: bad)
                throw FileError(path: path, "corrupt: tensor '\(name)' holds \(t[bad]) at flat index \(bad)"
                                + (parameter.map { " (parameter \($0.name))" } ?? "")
                                + (name == "adam.v" ? "; expected finite non-negative values" : "; expected finite values"))
            }
            return t
        }
        if options.emaDecay == nil && file.contains("ema") {
            throw FileError(path: path, "tensor 'ema' present but its options have no emaDecay: expected no EMA in a run without one")
        }
        return State(step: step, options: options, config: config,
                     parameters: try vector("parameters"), adamM: try vector("adam.m"), adamV: try vector("adam.v"),
                     ema: options.emaDecay != nil ? try vector("ema") : nil)
    }
}
