/// How diffusers' schedulers pick `n` inference timesteps out of T training steps
/// (`set_timesteps`, config `timestep_spacing`; Lin et al. 2023, Table 2). Returned in the
/// order visited, largest first.
///
/// - leading:  t_i = i · (T div n) + stepsOffset, i = 0..<n            (n=366: 730, 728, ..., 0)
/// - trailing: round(T - i · T/n) - 1 over numpy's arange(T, 0, -T/n)  (n=366: 999, 996, ..., 2)
/// - linspace: round(i · (T-1)/(n-1)), i = 0..<n                        (n=366: 999, 996, ..., 0)
///
/// Rounding is numpy's (half to even) and the float arithmetic follows numpy's `arange` and
/// `linspace`, so the lists equal diffusers' for every n (checked against numpy in the tests).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    case leading, trailing, linspace

    public func timesteps(inferenceSteps n: Int, trainSteps T: Int, stepsOffset: Int = 0) throws -> [Int] {
        guard (1...T).contains(n) else {
            throw SamplingError.invalidSteps(sampler: "\(rawValue) spacing", steps: n, allowed: 1...T)
        }
        let ascending: [Int]
        switch self {
        case .leading:
            let stepRatio = T / n
            ascending = (0..<n).map { $0 * stepRatio + stepsOffset }
        case .linspace:
            // numpy.linspace: i · step, the last point set to the end exactly.
            let step = Double(T - 1) / Double(max(n - 1, 1))
            ascending = (0..<n).map { i in
                let y = i == n - 1 && n > 1 ? Double(T - 1) : Double(i) * step
                return Int(y.rounded(.toNearestOrEven))
            }
        case .trailing:
            // numpy.arange(T, 0, -T/n): length ceil(-T / -(T/n)); element i = T + i·delta with
            // delta = (T - T/n) - T. For some n (61, 103, ...) that length is n + 1 and the extra
            // element rounds to timestep -1, which diffusers would index from the end.
            let stepRatio = Double(T) / Double(n)
            let length = Int((Double(0 - T) / -stepRatio).rounded(.up))
            let start = Double(T), delta = (start - stepRatio) - start
            let descending = (0..<length).map { i in
                Int((start + Double(i) * delta).rounded(.toNearestOrEven)) - 1
            }
            ascending = descending.reversed()
        }
        if let bad = ascending.first(where: { !(0..<T).contains($0) }) {
            throw SamplingError.timestepOutOfRange(
                what: "diffusers' \(rawValue) spacing with \(n) steps" + (stepsOffset != 0 ? " and steps_offset \(stepsOffset)" : ""),
                timestep: bad, trainSteps: T,
                hint: self == .trailing
                    ? "numpy's arange yields \(ascending.count) timesteps ending at -1 for this n; pick another step count or spacing"
                    : "lower steps_offset or the step count")
        }
        return ascending.reversed()
    }
}

/// Timestep subsequences tau of the DDIM paper (Song et al. 2021, Appendix D.2), largest first.
///
/// - uniform:   tau_i = floor(i · T / S), i = 0..<S (the paper's "linear" choice; equals the
///              official code's range(0, T, T/S) when S divides T, and always gives S steps)
/// - quadratic: tau_i = int((i · sqrt(0.8 T)/(S - 1))^2), i = 0..<S, i.e.
///              int(linspace(0, sqrt(0.8 T), S)^2) as in the official code.
///
/// Quadratic spacing repeats small timesteps when S is large (S = 50 gives 0 twice). A repeated
/// timestep is a DDIM step from alphaBar_t to itself, which leaves x_t unchanged, so repeats
/// are dropped: the result is the same and the model is evaluated once per distinct timestep.
public enum DDIMSpacing: String, Sendable, CaseIterable {
    case uniform, quadratic

    public func timesteps(steps S: Int, trainSteps T: Int) throws -> [Int] {
        guard (1...T).contains(S) else {
            throw SamplingError.invalidSteps(sampler: "ddim (\(rawValue) spacing)", steps: S, allowed: 1...T)
        }
        let ascending: [Int]
        switch self {
        case .uniform:
            ascending = (0..<S).map { $0 * T / S }
        case .quadratic:
            let end = (0.8 * Double(T)).squareRoot()
            let step = end / Double(max(S - 1, 1))
            let all = (0..<S).map { i -> Int in
                let y = i == S - 1 && S > 1 ? end : Double(i) * step
                return Int(y * y)
            }
            var distinct: [Int] = []
            for t in all where distinct.last != t { distinct.append(t) }
            ascending = distinct
        }
        return ascending.reversed()
    }
}
