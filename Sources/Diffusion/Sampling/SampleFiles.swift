/// What a sampling run leaves on disk: samples.png (a grid), samples.npy ([n, H, W] Float32
/// in [-0.5, 0.5], numpy.load reads it) and optionally samples.gif (x0 predictions over the steps).
public enum SampleFiles {
    public static func write(images: Tensor, to directory: String) throws {
        let grid = ImageGrid.make(images: images)
        try PNG.write(grayscale: grid.pixels, width: grid.width, height: grid.height, to: directory + "/samples.png")
        try NPY.write(images.reshaped(Array(images.shape.prefix(3))), to: directory + "/samples.npy")
    }

    /// Loads x_T for `n` images from a .npy of shape [n, 1, H, W] (diffusers' layout) or
    /// [n, H, W]; returns NHWC [n, H, W, 1].
    public static func readNoise(_ path: String, count n: Int, size: Int) throws -> Tensor {
        let array = try NPY.read(path)
        let ok = array.shape == [n, 1, size, size] || array.shape == [n, size, size]
        guard ok else {
            throw FileError(path: path, "x_T has shape \(array.shape), expected [\(n), 1, \(size), \(size)] (or [\(n), \(size), \(size)]) for --n \(n)")
        }
        let values = array.floats
        for (i, v) in values.enumerated() where !v.isFinite {
            throw FileError(path: path, "x_T holds a non-finite value (\(v)) at flat index \(i)")
        }
        return Tensor(shape: [n, size, size, 1], values: values)
    }
}

/// Collects the predicted x0 of the first `count` local images every `every` steps and
/// writes them as an animated GIF grid (the original write-up's animation).
public final class SampleAnimation {
    public let count: Int, every: Int
    private var frames: [[UInt8]] = []
    private var size = (width: 0, height: 0)

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
        frames.append(grid.pixels)
        size = (grid.width, grid.height)
    }

    public func write(to path: String) throws {
        guard !frames.isEmpty else { return }
        var delays = [Int](repeating: 6, count: frames.count)
        delays[delays.count - 1] = 200  // hold the final images
        try GIF.write(frames: frames, width: size.width, height: size.height, delays: delays, to: path)
    }
}
