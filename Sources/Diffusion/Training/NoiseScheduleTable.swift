// Temporary minimal schedule until the Schedules module lands.
public struct NoiseScheduleTable: Sendable {
    public let betas: [Double], alphaBar: [Double]
    public init(betaStart: Double, betaEnd: Double, steps: Int) {
        betas = (0..<steps).map { betaStart + (betaEnd - betaStart) * Double($0) / Double(steps - 1) }
        var p = 1.0
        alphaBar = betas.map { p *= 1 - $0; return p }
    }
}
