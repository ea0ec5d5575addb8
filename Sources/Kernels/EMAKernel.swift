/// The elementwise EMA update (see `EMA` in Training/EMA.swift): shadow -= (1 - decay) * (shadow - param),
/// in Float32 as diffusers' `EMAModel.step` computes it (`s_param.sub_(one_minus_decay * (s_param - param))`).
public enum EMAKernel {
    public static func update(shadow: UnsafeMutablePointer<Float>, params: UnsafePointer<Float>, count: Int,
                              oneMinusDecay: Float) {
        Parallel.forRanges(count, minChunk: 1 << 15) { r in
            for i in r {
                let difference = shadow[i] - params[i]
                shadow[i] -= oneMinusDecay * difference
            }
        }
    }
}
