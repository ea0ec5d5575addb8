import Foundation

/// The scheduler of a diffusers pipeline folder, `scheduler/scheduler_config.json` beside the
/// model's folder (diffusers' `DDPMPipeline.save_pretrained` layout: unet/ and scheduler/).
/// A training run writes one (its model/ and model-ema/ being the pipeline's model folders),
/// so `DDPMScheduler.from_pretrained(run, subfolder="scheduler")` gets the run's schedule and
/// prediction type, and loading a model here reads the prediction type back.
public enum PipelineSchedulerConfig {
    public static let folderName = "scheduler"
    public static let fileName = "scheduler_config.json"

    /// `<run>/scheduler/scheduler_config.json`.
    public static func path(inRun run: String) -> String { run + "/" + folderName + "/" + fileName }

    /// The config file of the pipeline holding the model folder `modelFolder` (its parent's
    /// scheduler/), whether or not it exists.
    public static func path(besideModel modelFolder: String) -> String {
        var trimmed = modelFolder
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        return path(inRun: URL(fileURLWithPath: trimmed).deletingLastPathComponent().path)
    }

    /// diffusers 0.42.1's DDPMScheduler config for `schedule` (linear betas) and `prediction`,
    /// every other option at diffusers' default, keys sorted as `save_pretrained` writes them.
    public static func text(schedule: NoiseSchedule, prediction: PredictionType) -> String {
        func number(_ x: Double) -> JSONValue { .number(x == x.rounded() && abs(x) < 1e15 ? "\(Int(x)).0" : "\(x)") }
        let members: [JSONMember] = [
            .init(key: "_class_name", value: .string("DDPMScheduler")),
            .init(key: "_diffusers_version", value: .string(UNetConfig.diffusersVersion)),
            .init(key: "beta_end", value: number(schedule.betaEnd)),
            .init(key: "beta_schedule", value: .string("linear")),
            .init(key: "beta_start", value: number(schedule.betaStart)),
            .init(key: "clip_sample", value: .bool(true)),
            .init(key: "clip_sample_range", value: number(1)),
            .init(key: "dynamic_thresholding_ratio", value: number(0.995)),
            .init(key: "num_train_timesteps", value: .number("\(schedule.count)")),
            .init(key: "prediction_type", value: .string(prediction.rawValue)),
            .init(key: "rescale_betas_zero_snr", value: .bool(false)),
            .init(key: "sample_max_value", value: number(1)),
            .init(key: "steps_offset", value: .number("0")),
            .init(key: "thresholding", value: .bool(false)),
            .init(key: "timestep_spacing", value: .string("leading")),
            .init(key: "trained_betas", value: .null),
            .init(key: "variance_type", value: .string("fixed_small")),
        ]
        return JSONValue.object(members).pythonIndentedText() + "\n"
    }

    /// Writes `<run>/scheduler/scheduler_config.json` atomically.
    public static func write(schedule: NoiseSchedule, prediction: PredictionType, inRun run: String) throws {
        try FileError.createFolder(run + "/" + folderName)
        try FileBytes.writeAtomically(Array(text(schedule: schedule, prediction: prediction).utf8), to: path(inRun: run))
    }

    /// The `prediction_type` of the config at `path`; nil when there is no such file (or it
    /// leaves the key out: diffusers' default, epsilon). An unreadable file or an unknown
    /// value is an error naming the file.
    public static func predictionType(at path: String) throws -> PredictionType? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let root: JSONValue
        do { root = try JSONParser.parse(try FileBytes.read(path)) } catch {
            throw FileError(path: path, "not a scheduler config (JSON): \(error)")
        }
        guard case .object(let members) = root else { throw FileError(path: path, "not a scheduler config: expected a JSON object") }
        guard let value = members.last(where: { $0.key == "prediction_type" })?.value else { return nil }
        guard let name = value.stringValue, let type = PredictionType(rawValue: name) else {
            throw FileError(path: path, "prediction_type \(value.snippet) is not one of \(PredictionType.names)")
        }
        return type
    }
}
