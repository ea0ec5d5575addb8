/// An RGB raster to draw plots on (8 bits per channel, row-major), written out as PNG.
public struct Canvas {
    public let width, height: Int
    public private(set) var pixels: [UInt8]

    public struct Color: Sendable {
        public let r, g, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
        public static let white = Color(255, 255, 255), black = Color(0, 0, 0)
        public static let gray = Color(200, 200, 200), darkGray = Color(110, 110, 110)
        public static let blue = Color(31, 119, 180), orange = Color(255, 127, 14)
        public static let green = Color(44, 160, 44), red = Color(214, 39, 40), purple = Color(148, 103, 189)
        /// matplotlib's "tab10" colours, so up to ten series stay apart.
        public static let palette: [Color] = [.blue, .orange, .green, .red, .purple, Color(140, 86, 75),
                                              Color(227, 119, 194), Color(127, 127, 127), Color(188, 189, 34),
                                              Color(23, 190, 207), Color(31, 60, 120), Color(170, 90, 10),
                                              Color(20, 110, 20), Color(120, 20, 20), Color(80, 40, 130),
                                              Color(0, 0, 0), Color(90, 160, 250), Color(250, 180, 90)]
    }

    public init(width: Int, height: Int, background: Color = .white) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.r; pixels[3 * i + 1] = background.g; pixels[3 * i + 2] = background.b
        }
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// A line of the given thickness (Bresenham, thickened with a square pen).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: Color, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            for ox in lo...hi { for oy in lo...hi { set(x + ox, y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    public mutating func fillRect(_ x: Int, _ y: Int, _ w: Int, _ h: Int, _ c: Color) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, c) } }
    }

    /// Text with its top-left corner at (x, y).
    public mutating func text(_ s: String, x: Int, y: Int, _ c: Color = .black, scale: Int = 1) {
        var cx = x
        for ch in s {
            let g = BitmapFont.glyph(ch)
            for (row, bits) in g.enumerated() {
                for col in 0..<BitmapFont.width where bits & (0x10 >> UInt8(col)) != 0 {
                    fillRect(cx + col * scale, y + row * scale, scale, scale, c)
                }
            }
            cx += (BitmapFont.width + 1) * scale
        }
    }
}

extension Canvas {
    /// `canvases` one below the other, as wide as the widest (two plots in one PNG).
    public static func stacked(_ canvases: [Canvas]) -> Canvas {
        var out = Canvas(width: canvases.map(\.width).max() ?? 1, height: max(1, canvases.map(\.height).reduce(0, +)))
        var top = 0
        for c in canvases {
            for y in 0..<c.height {
                let row = 3 * (top + y) * out.width
                out.pixels.replaceSubrange(row..<(row + 3 * c.width), with: c.pixels[(3 * y * c.width)..<(3 * (y + 1) * c.width)])
            }
            top += c.height
        }
        return out
    }
}
