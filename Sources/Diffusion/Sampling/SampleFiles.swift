/// What a sampling run leaves on disk: samples.png (a grid: gray for one channel, RGB for
/// three, C gray tiles per image otherwise), samples.npy (Float32 in [-0.5, 0.5], numpy.load
/// reads it: [n, H, W] for one channel as ever, [n, C, H, W] as PyTorch lays out images for
/// more) and optionally samples.gif (x0 predictions over the steps).
public enum SampleFiles {
    public static func write(images: Tensor, to directory: String) throws {
        try writeGrid(images: images, to: directory + "/samples.png")
        try NPY.write(npyLayout(images), to: directory + "/samples.npy")
    }

    /// The PNG grid of `images` [n, H, W, C] (see `ImageGrid.make`).
    public static func writeGrid(images: Tensor, to path: String) throws {
        try PNG.write(ImageGrid.make(images: images), to: path)
    }

    /// NHWC [n, H, W, C] as samples.npy holds it: [n, H, W] for C = 1, else [n, C, H, W].
    public static func npyLayout(_ images: Tensor) -> Tensor {
        images.shape[3] == 1 ? images.reshaped(Array(images.shape.prefix(3))) : Layout.nhwcToNCHW(images)
    }

    /// Loads x_T for `n` images of `channels` channels from a .npy of shape [n, C, H, W]
    /// (diffusers' layout), or [n, H, W] for one channel; returns NHWC [n, H, W, C].
    public static func readNoise(_ path: String, count n: Int, size: Int, channels: Int) throws -> Tensor {
        let array = try NPY.read(path)
        let ok = array.shape == [n, channels, size, size] || (channels == 1 && array.shape == [n, size, size])
        guard ok else {
            let alternative = channels == 1 ? " (or [\(n), \(size), \(size)])" : ""
            throw FileError(path: path, "x_T has shape \(array.shape), expected [\(n), \(channels), \(size), \(size)]\(alternative) "
                            + "for --n \(n) and a model with \(channels) channel(s)")
        }
        let values = array.floats
        for (i, v) in values.enumerated() where !v.isFinite {
            throw FileError(path: path, "x_T holds a non-finite value (\(v)) at flat index \(i)")
        }
        return Layout.nchwToNHWC(Tensor(shape: [n, channels, size, size], values: values))
    }
}

/// Collects the predicted x0 of the first `count` local images every `every` steps and
/// writes them as an animated GIF grid (the original write-up's animation).
public final class SampleAnimation {
    public let count: Int, every: Int
    private var frames: [[UInt8]] = []
    private var size = (width: 0, height: 0)
    private var palette = GIF.Palette.gray

    public init(count: Int = 16, totalSteps: Int, frames target: Int = 80) {
        self.count = count
        self.every = max(1, totalSteps / target)
    }

    public func record(step: Int, totalSteps: Int, x0: Tensor) {
        guard step % every == 0 || step == totalSteps - 1, x0.shape[0] > 0 else { return }
        let k = min(count, x0.shape[0])
        let clipped = x0.gather(Array(0..<k))
        for i in 0..<clipped.count { clipped[i] = min(0.5, max(-0.5, clipped[i])) }
        let grid = ImageGrid.make(images: clipped, columns: Int(Double(k).squareRoot().rounded(.up)))
        // RGB frames go to GIF's 256 colors as a 3-3-2 cube.
        palette = grid.colorType == .rgb ? .rgb332 : .gray
        frames.append(palette == .rgb332 ? GIF.Palette.rgb332Indices(grid.pixels) : grid.pixels)
        size = (grid.width, grid.height)
    }

    public func write(to path: String) throws {
        guard !frames.isEmpty else { return }
        var delays = [Int](repeating: 6, count: frames.count)
        delays[delays.count - 1] = 200  // hold the final images
        try GIF.write(frames: frames, width: size.width, height: size.height, delays: delays, palette: palette, to: path)
    }
}
