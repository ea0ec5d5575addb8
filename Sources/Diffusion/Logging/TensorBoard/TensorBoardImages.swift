extension TensorBoardWriter {
    /// A picture (a sample grid as `ImageGrid.make` lays it out), PNG-encoded.
    public func image(_ tag: String, picture: ImageGrid.Picture, step: Int, wallTime: Double? = nil) throws {
        let png = PNG.encode(picture.pixels, width: picture.width, height: picture.height, colorType: picture.colorType)
        try image(tag, png: png, width: picture.width, height: picture.height, channels: picture.colorType.channels,
                  step: step, wallTime: wallTime)
    }

    /// A PNG file already on disk (samples.png), its size and channels read from its header.
    public func image(_ tag: String, pngFile: String, step: Int, wallTime: Double? = nil) throws {
        let png = try FileBytes.read(pngFile)
        let header = try PNG.header(png, path: pngFile)
        try image(tag, png: png, width: header.width, height: header.height, channels: header.channels,
                  step: step, wallTime: wallTime)
    }
}
