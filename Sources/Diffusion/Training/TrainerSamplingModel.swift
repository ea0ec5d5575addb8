extension Trainer {
    /// The model to sample the run with: its EMA weights when it keeps them, else the trained
    /// model itself, with the trained model's convolutions and prediction type.
    public func samplingModel() throws -> UNet2DModel {
        guard let ema else { return model }
        let copy = try ema.model(config: model.config)
        copy.context.convolutions = model.context.convolutions
        copy.predictionType = model.predictionType
        return copy
    }
}
