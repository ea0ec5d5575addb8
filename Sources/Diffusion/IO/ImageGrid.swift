/// Lays images out in a grid for looking at them: a batch of samples, a page of the
/// dataset, a frame of a sampling animation.
public enum ImageGrid {
    /// Grayscale bytes for `images` [n, h, w, 1]: `columns` per row (default: a near-square
    /// grid), `gap` background pixels between cells and around the edge, values mapped
    /// linearly from `range` to 0...255 (clamped, rounded half up, as torchvision's
    /// save_image does).
    public static func make(images: Tensor, columns: Int? = nil, gap: Int = 2, background: UInt8 = 255,
                            range: ClosedRange<Float> = -0.5...0.5) -> (pixels: [UInt8], width: Int, height: Int) {
        precondition(images.shape.count == 4 && images.shape[3] == 1,
                     "ImageGrid takes [n, h, w, 1] images, got \(images.shape)")
        let n = images.shape[0], h = images.shape[1], w = images.shape[2]
        let columns = max(1, min(columns ?? defaultColumns(count: n), max(n, 1)))
        let rows = max(1, (n + columns - 1) / columns)
        let width = columns * w + (columns + 1) * gap
        let height = rows * h + (rows + 1) * gap
        var pixels = [UInt8](repeating: background, count: width * height)
        for i in 0..<n {
            let top = gap + (i / columns) * (h + gap)
            let left = gap + (i % columns) * (w + gap)
            let src = images.data + i * h * w
            for y in 0..<h {
                for x in 0..<w {
                    pixels[(top + y) * width + left + x] = quantize(src[y * w + x], range: range)
                }
            }
        }
        return (pixels, width, height)
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
