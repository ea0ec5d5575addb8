/// The elementwise Adam update (see `Adam` in Training/Adam.swift for the equations):
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= stepSize * m / (sqrt(v) / bc2Sqrt + eps)
public enum AdamKernel {
    public static func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                              stepSize: Float, beta1 b1: Float, beta2 b2: Float, bc2Sqrt: Float, eps: Float) {
        Parallel.forRanges(count, minChunk: 1 << 15) { r in
            for i in r {
                let g = grads[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                params[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
            }
        }
    }
}
