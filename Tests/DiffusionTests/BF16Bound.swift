/// The error bound of a bf16 product against fp32, shared by the oneDNN convolution and
/// matmul tests: bf16 rounds both factors of every product to an 8-bit significand
/// (u = 2^-8), so each product is off by at most (2u + u^2)|a||b|, and each output element
/// by that fraction of the same sum over |a||b|, plus 1e-5 of the tensor's scale for the
/// fp32 accumulation.
enum BF16Bound {
    static let factor: Double = { let u = 1.0 / 256; return 2 * u + u * u }()

    /// The worst element's error |mine - reference| as a share of its bound (at most 1 when
    /// within it). `magnitudes` is the same computation on absolute values, less `offset`
    /// (a starting value it was accumulated onto).
    static func worstShare(_ mine: [Float], _ reference: [Float], _ magnitudes: [Float], offset: Float = 0) -> Double {
        let scale = reference.reduce(0.0) { max($0, Double(abs($1))) }
        var worst = 0.0
        for i in mine.indices {
            let allowed = factor * Double(magnitudes[i] - offset) + 1e-5 * scale
            worst = max(worst, Double(abs(mine[i] - reference[i])) / allowed)
        }
        return worst
    }
}
