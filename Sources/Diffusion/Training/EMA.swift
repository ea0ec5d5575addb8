import Foundation
import Kernels

/// An exponential moving average of the parameters, as diffusers' `EMAModel` (training_utils.py,
/// used by its training examples with --use_ema). After optimizer step k (k = 1, 2, ...):
///
///     s = max(0, k - updateAfterStep - 1)
///     decay_k = 0                                          if s = 0
///             = (1 + s) / (10 + s)                         (warm-up, diffusers' default)
///             = 1 - (1 + s / invGamma)^(-power)            (when `power` is set: use_ema_warmup)
///     decay_k = max(min(decay_k, maxDecay), minDecay)      (for s > 0)
///     shadow  = shadow - (1 - decay_k) (shadow - params)
///
/// so the first step (and the `updateAfterStep` after it) copies the parameters. The shadow
/// starts as the parameters the run starts from. Every rank applies the same update to the
/// same parameters, so the averages agree without communication.
public final class EMA {
    public struct Settings: Equatable, Sendable {
        /// diffusers' `decay`: the largest decay the warm-up may reach.
        public var maxDecay: Double
        public var minDecay = 0.0
        public var updateAfterStep = 0
        /// `use_ema_warmup` with this `power`; nil: the (1 + s)/(10 + s) warm-up.
        public var power: Double? = nil
        public var invGamma = 1.0

        public init(maxDecay: Double, minDecay: Double = 0, updateAfterStep: Int = 0, power: Double? = nil, invGamma: Double = 1) {
            self.maxDecay = maxDecay; self.minDecay = minDecay; self.updateAfterStep = updateAfterStep
            self.power = power; self.invGamma = invGamma
        }

        /// decay_k after optimizer step k (diffusers' `get_decay(k)`).
        public func decay(afterStep k: Int) -> Double {
            let s = max(0, k - updateAfterStep - 1)
            if s <= 0 { return 0 }
            let warmUp: Double
            if let power {
                warmUp = 1 - Foundation.pow(1 + Double(s) / invGamma, -power)
            } else {
                warmUp = Double(1 + s) / Double(10 + s)
            }
            return max(min(warmUp, maxDecay), minDecay)
        }
    }

    public let settings: Settings
    public let count: Int
    /// The average, one float per parameter (the `ParameterStore` order).
    public let shadow: UnsafeMutablePointer<Float>

    /// The average of `count` parameters, starting at their values.
    public init(settings: Settings, count: Int, parameters: UnsafePointer<Float>) {
        self.settings = settings
        self.count = count
        shadow = .allocate(capacity: max(count, 1))
        shadow.initialize(repeating: 0, count: max(count, 1))
        reset(to: parameters)
    }

    deinit { shadow.deallocate() }

    /// A model of `config` holding the average (to write as `model-ema/` or sample from).
    public func model(config: UNetConfig) throws -> UNet2DModel {
        let model = try UNet2DModel(config: config)
        precondition(model.store.count == count, "EMA of \(count) parameters for a model of \(model.store.count)")
        model.store.values.update(from: shadow, count: count)
        return model
    }

    /// Starts the average over at `values` (the parameters a run starts from, or a checkpoint's average).
    public func reset(to values: UnsafePointer<Float>) {
        shadow.update(from: values, count: count)
    }

    /// The update after optimizer step k (1-based) left the model at `parameters`.
    public func update(parameters: UnsafePointer<Float>, afterStep k: Int) {
        let decay = settings.decay(afterStep: k)
        EMAKernel.update(shadow: shadow, params: parameters, count: count, oneMinusDecay: Float(1 - decay))
    }
}
