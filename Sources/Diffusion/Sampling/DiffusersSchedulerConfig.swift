/// The diffusers scheduler options this package reproduces (diffusers 0.42.1 defaults).
/// The betas come from the `NoiseSchedule` handed to the scheduler (diffusers' `beta_start`,
/// `beta_end`, `num_train_timesteps`; note the recipe uses beta_end = 0.01, diffusers' default
/// is 0.02). The schedulers take eps; a v_prediction or sample model is converted to eps
/// around them (`PredictionType`), which gives diffusers' steps exactly. No thresholding.
public struct DiffusersSchedulerConfig: Sendable, Equatable {
    /// `clip_sample`: clamp the predicted x0 to ±clipSampleRange.
    public var clipSample: Bool
    /// `clip_sample_range`.
    public var clipSampleRange: Double
    /// `timestep_spacing`.
    public var timestepSpacing: TimestepSpacing
    /// `steps_offset` (used by "leading" spacing only, as in diffusers).
    public var stepsOffset: Int

    public init(clipSample: Bool = true, clipSampleRange: Double = 1.0,
                timestepSpacing: TimestepSpacing = .leading, stepsOffset: Int = 0) {
        self.clipSample = clipSample
        self.clipSampleRange = clipSampleRange
        self.timestepSpacing = timestepSpacing
        self.stepsOffset = stepsOffset
    }

    var clip: Double? { clipSample ? clipSampleRange : nil }
}
