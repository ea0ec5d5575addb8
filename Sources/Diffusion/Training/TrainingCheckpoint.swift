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
        ], metadata: [
            "step": String(trainer.step),
            "options": options,
            "config": trainer.model.config.toJSON(),
        ], to: path)
    }

    public struct State {
        public let step: Int
        public let options: TrainingOptions
        public let config: UNetConfig
        public let parameters: Tensor, adamM: Tensor, adamV: Tensor
    }

    /// Reads and checks a state file (it must come from this project's `save`).
    public static func load(from path: String) throws -> State {
        let file = try Safetensors(contentsOf: path)
        func meta(_ key: String) throws -> String {
            guard let v = file.metadata[key] else {
                throw FileError(path: path, "metadata field '\(key)' missing: not a training state written by `launcher train`")
            }
            return v
        }
        guard let step = Int(try meta("step")), step >= 0 else {
            throw FileError(path: path, "metadata field 'step' is '\(file.metadata["step"] ?? "")', expected a non-negative integer")
        }
        let options: TrainingOptions
        do { options = try TrainingOptions(json: try meta("options")) } catch let e as FileError { throw e } catch {
            throw FileError(path: path, "metadata field 'options' is not valid training options: \(error)")
        }
        let config = try UNetConfig(json: Array(try meta("config").utf8), path: path + " (metadata 'config')")
        // Counted in closed form: listing the parameters of a tampered config could exhaust memory.
        let count = config.checkedParameterCount.value ?? -1
        func vector(_ name: String) throws -> Tensor {
            guard file.contains(name) else { throw FileError(path: path, "tensor '\(name)' missing") }
            let t = try file.tensor(named: name)
            guard t.shape == [count] else {
                throw FileError(path: path, "tensor '\(name)' has shape \(t.shape), expected [\(count)] for the model in its config")
            }
            return t
        }
        return State(step: step, options: options, config: config,
                     parameters: try vector("parameters"), adamM: try vector("adam.m"), adamV: try vector("adam.v"))
    }
}
