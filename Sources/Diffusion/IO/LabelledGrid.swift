extension ImageGrid {
    /// A grid with one label per row written to its left (class names beside a `--class all`
    /// grid): `picture` as `make` lays it out (cells `cellHeight` high, `gap` apart), widened
    /// by a margin as wide as the longest label, each label centred on its row, in black on
    /// the grid's background, in the 5x7 bitmap font.
    public static func labellingRows(_ picture: Picture, labels: [String], cellHeight: Int, gap: Int = 2,
                                     background: UInt8 = 255) -> Picture {
        let c = picture.colorType == .rgb ? 3 : 1
        let margin = (labels.map { BitmapFont.textWidth($0) }.max() ?? 0) + 2 * gap
        let width = picture.width + margin, height = picture.height
        var pixels = [UInt8](repeating: background, count: width * height * c)
        for y in 0..<height {
            let src = y * picture.width * c, dst = (y * width + margin) * c
            pixels[dst..<(dst + picture.width * c)] = picture.pixels[src..<(src + picture.width * c)]
        }
        for (row, label) in labels.enumerated() {
            let top = gap + row * (cellHeight + gap) + (cellHeight - BitmapFont.height) / 2
            var x = gap
            for ch in label {
                for (dy, bits) in BitmapFont.glyph(ch).enumerated() {
                    for dx in 0..<BitmapFont.width where bits & (0x10 >> UInt8(dx)) != 0 {
                        let (px, py) = (x + dx, top + dy)
                        guard px < margin, py >= 0, py < height else { continue }
                        for k in 0..<c { pixels[(py * width + px) * c + k] = 0 }
                    }
                }
                x += BitmapFont.width + 1
            }
        }
        return Picture(pixels: pixels, width: width, height: height, colorType: picture.colorType)
    }
}

extension SampleFiles {
    /// samples.png of a `--class all` run: `classes` rows of n / classes images, each labelled
    /// with its class name.
    public static func writeClassGrid(images: Tensor, classes: Int, names: [String] = FashionMNIST.classNames,
                                      to path: String) throws {
        let n = images.shape[0]
        precondition(classes >= 1 && n % classes == 0, "\(n) images do not split into \(classes) rows")
        let grid = ImageGrid.make(images: images, columns: n / classes)
        let labels = (0..<classes).map { $0 < names.count ? names[$0] : "class \($0)" }
        try PNG.write(ImageGrid.labellingRows(grid, labels: labels, cellHeight: images.shape[1]), to: path)
    }
}
