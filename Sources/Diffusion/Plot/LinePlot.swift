import Foundation

/// A line chart with axes, ticks, labels and a legend, drawn on a `Canvas`.
/// Used for the training loss curve and the FID-against-model-evaluations comparison.
public struct LinePlot {
    public struct Series {
        public var label: String
        public var x: [Double], y: [Double]
        public var markers: Bool
        public init(label: String, x: [Double], y: [Double], markers: Bool = false) {
            self.label = label; self.x = x; self.y = y; self.markers = markers
        }
    }

    public var title = ""
    public var xLabel = "", yLabel = ""
    public var logY = false
    public var series: [Series] = []
    public var width = 800, height = 500

    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY
    }

    /// "Nice" tick values covering lo...hi (1, 2, 5 times a power of ten).
    static func ticks(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(target)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
        if a >= 100 || v == v.rounded() { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.1f", v) }
        return String(format: "%.3g", v)
    }

    /// `label` of each tick, or where two would read the same (ticks 0.05 apart above 1),
    /// fixed decimals, as few as tell them all apart.
    static func labels(_ ticks: [Double]) -> [String] {
        let plain = ticks.map(label)
        guard Set(plain).count < plain.count else { return plain }
        for decimals in 1...6 {
            let fixed = ticks.map { String(format: "%.\(decimals)f", $0) }
            if Set(fixed).count == fixed.count { return fixed }
        }
        return plain
    }

    public func render() -> Canvas {
        var c = Canvas(width: width, height: height)
        let left = 70, right = width - 20, top = 40, bottom = height - 50
        let pts = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) } }
        guard !pts.isEmpty else {
            c.text(title + " (no data)", x: left, y: 15, scale: 2)
            return c
        }
        var x0 = pts.map(\.0).min()!, x1 = pts.map(\.0).max()!
        if x1 == x0 { x0 -= 1; x1 += 1 }
        if series.contains(where: \.markers) {  // keep markers at the ends inside the frame
            let m = (x1 - x0) * 0.03; x0 -= m; x1 += m
        }
        func ty(_ v: Double) -> Double { logY ? log10(v) : v }
        var y0 = pts.map { ty($0.1) }.min()!, y1 = pts.map { ty($0.1) }.max()!
        if y1 == y0 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad
        func px(_ x: Double) -> Int { left + Int((x - x0) / (x1 - x0) * Double(right - left)) }
        func py(_ y: Double) -> Int { bottom - Int((ty(y) - y0) / (y1 - y0) * Double(bottom - top)) }

        // grid, ticks and labels
        let xTicks = Self.ticks(x0, x1)
        for (t, s) in zip(xTicks, Self.labels(xTicks)) {
            let x = px(t)
            c.line(x, top, x, bottom, .gray)
            c.text(s, x: x - BitmapFont.textWidth(s) / 2, y: bottom + 6, .darkGray)
        }
        let yTicks = logY ? Self.logTicks(y0, y1) : Self.ticks(y0, y1)
        for (t, s) in zip(yTicks, Self.labels(yTicks)) {
            let y = py(t)
            guard y >= top && y <= bottom else { continue }
            c.line(left, y, right, y, .gray)
            c.text(s, x: left - 6 - BitmapFont.textWidth(s), y: y - 3, .darkGray)
        }
        c.line(left, bottom, right, bottom, .black)
        c.line(left, top, left, bottom, .black)
        c.text(title, x: (width - BitmapFont.textWidth(title, scale: 2)) / 2, y: 10, scale: 2)
        c.text(xLabel, x: (left + right - BitmapFont.textWidth(xLabel)) / 2, y: bottom + 22)
        c.text(yLabel, x: 4, y: top - 14)

        // series and legend
        for (i, s) in series.enumerated() {
            let color = Canvas.Color.palette[i % Canvas.Color.palette.count]
            var prev: (Int, Int)?
            for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite && (!logY || y > 0) {
                let p = (px(x), py(y))
                if let q = prev { c.line(q.0, q.1, p.0, p.1, color, thickness: 2) }
                if s.markers { c.fillRect(p.0 - 3, p.1 - 3, 7, 7, color) }
                prev = p
            }
            let ly = top + 8 + 14 * i
            c.fillRect(right - 150, ly, 14, 4, color)
            c.text(s.label, x: right - 130, y: ly - 2)
        }
        return c
    }

    /// Ticks inside the log10 range y0...y1, at least three where the range allows: 1, 2
    /// and 5 times powers of ten; on a range under a decade or so (an FID from 4 down to 1.2),
    /// every integer times a power of ten; on a narrower one, linear "nice" values.
    static func logTicks(_ y0: Double, _ y1: Double) -> [Double] {
        guard y1 > y0, y0.isFinite, y1.isFinite else { return [pow(10, y0)] }
        for mantissas in [[1.0, 2, 5], Array(stride(from: 1.0, through: 9, by: 1))] {
            var out: [Double] = []
            for e in Int(floor(y0))...Int(ceil(y1)) {
                for m in mantissas {
                    let v = m * pow(10, Double(e))
                    if log10(v) >= y0 && log10(v) <= y1 { out.append(v) }
                }
            }
            if out.count >= 3 { return out }
        }
        return ticks(pow(10, y0), pow(10, y1), target: 4)
    }
}
