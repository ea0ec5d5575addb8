/// Lays images out in a grid for looking at them: a batch of samples, a page of the
/// dataset, a frame of a sampling animation.
public enum ImageGrid {
    /// A grid's bytes: one per pixel (gray) or three (R, G, B).
    public struct Picture: Sendable {
        public let pixels: [UInt8]
        public let width: Int, height: Int
        public let colorType: PNG.ColorType
    }

    /// The grid of `images` [n, h, w, C]: `columns` per row (default: a near-square grid),
    /// `gap` background pixels between cells and around the edge, values mapped linearly
    /// from `range` to 0...255 (clamped, rounded half up, as torchvision's save_image does).
    /// One channel gives a gray picture and three an RGB one; any other C shows each image as
    /// C gray tiles side by side (its channels in order), `columns` images per row.
    public static func make(images: Tensor, columns: Int? = nil, gap: Int = 2, background: UInt8 = 255,
                            range: ClosedRange<Float> = -0.5...0.5) -> Picture {
        precondition(images.shape.count == 4, "ImageGrid takes [n, h, w, C] images, got \(images.shape)")
        let n = images.shape[0], h = images.shape[1], w = images.shape[2], c = images.shape[3]
        let columns = max(1, min(columns ?? defaultColumns(count: n), max(n, 1)))
        if c != 1 && c != 3 {
            return make(images: channelTiles(images), columns: columns * c, gap: gap, background: background, range: range)
        }
        let rows = max(1, (n + columns - 1) / columns)
        let width = columns * w + (columns + 1) * gap
        let height = rows * h + (rows + 1) * gap
        var pixels = [UInt8](repeating: background, count: width * height * c)
        for i in 0..<n {
            let top = gap + (i / columns) * (h + gap)
            let left = gap + (i % columns) * (w + gap)
            let src = images.data + i * h * w * c
            for y in 0..<h {
                let row = ((top + y) * width + left) * c
                for x in 0..<(w * c) {
                    pixels[row + x] = quantize(src[y * w * c + x], range: range)
                }
            }
        }
        return Picture(pixels: pixels, width: width, height: height, colorType: c == 3 ? .rgb : .grayscale)
    }

    /// [n, h, w, C] -> [n * C, h, w, 1]: image i's channel k becomes tile i * C + k.
    static func channelTiles(_ images: Tensor) -> Tensor {
        let n = images.shape[0], h = images.shape[1], w = images.shape[2], c = images.shape[3]
        let out = Tensor(uninitialized: [n * c, h, w, 1])
        for i in 0..<n { for k in 0..<c { for p in 0..<(h * w) {
            out[(i * c + k) * h * w + p] = images[(i * h * w + p) * c + k]
        } } }
        return out
    }

    /// The columns of a near-square grid of `count` images: ceil(sqrt(count)).
    public static func defaultColumns(count: Int) -> Int {
        max(1, Int(Double(count).squareRoot().rounded(.up)))
    }

    /// `value` mapped from `range` to 0...255: floor(t * 255 + 0.5), clamped.
    @inline(__always)
    public static func quantize(_ value: Float, range: ClosedRange<Float>) -> UInt8 {
        let t = (value - range.lowerBound) / (range.upperBound - range.lowerBound)
        let v = (t * 255 + 0.5).rounded(.down)
        if !(v >= 0) { return 0 }  // also NaN
        return v >= 255 ? 255 : UInt8(v)
    }
}
