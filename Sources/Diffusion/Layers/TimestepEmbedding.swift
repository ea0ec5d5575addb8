import Foundation

/// Sinusoidal timestep features (diffusers `Timesteps` / `get_timestep_embedding`):
///   half = dim/2,  f_i = exp(-ln(10000) i / (half - freqShift)),  e = [sin(t f), cos(t f)]
///   with flipSinToCos the halves swap: [cos, sin]. No parameters, no backward (t is data).
/// Computed like diffusers, in Float32: t*f rounded to Float before sin/cos.
public enum SinusoidalTimestep {
    public static func embed(_ t: [Float], dim: Int, flipSinToCos: Bool, freqShift: Float) -> Tensor {
        let half = dim / 2
        let out = Tensor(shape: [t.count, dim])
        for (b, tb) in t.enumerated() {
            for i in 0..<half {
                let exponent = -logf(10000) * Float(i) / (Float(half) - freqShift)
                let arg = tb * expf(exponent)
                let s = Float(Foundation.sin(Double(arg))), c = Float(Foundation.cos(Double(arg)))
                out.data[b * dim + i] = flipSinToCos ? c : s
                out.data[b * dim + half + i] = flipSinToCos ? s : c
            }
        }
        return out
    }
}
