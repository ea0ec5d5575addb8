extension SampleFiles {
    /// Reads images from a .npy as `launcher sample` writes them ([n, H, W]) or in PyTorch's
    /// [n, 1, H, W] or NHWC [n, H, W, 1]; returns NHWC [n, size, size, 1]. Values should be
    /// in [-0.5, 0.5] (the training data's range); they are not rescaled.
    public static func readImages(_ path: String, size: Int, channels: Int = 1) throws -> Tensor {
        let array = try NPY.read(path)
        let s = array.shape
        let n = s.first ?? 0
        if channels > 1 {
            // [n, C, H, W] as samples.npy holds colour images, or [n, H, W, C].
            guard n >= 1, s == [n, channels, size, size] || s == [n, size, size, channels] else {
                throw FileError(path: path, "images have shape \(s), expected [n, \(channels), \(size), \(size)] or "
                                + "[n, \(size), \(size), \(channels)] with n >= 1 (the classifier's input)")
            }
            if let bad = array.floats.firstIndex(where: { !$0.isFinite }) {
                throw FileError(path: path, "value \(bad) is not finite (\(array.floats[bad]))")
            }
            let t = Tensor(shape: s, values: array.floats)
            return s[1] == channels && s[3] != channels ? Layout.nchwToNHWC(t) : t
        }
        let ok = s == [n, size, size] || s == [n, 1, size, size] || s == [n, size, size, 1]
        guard ok, n >= 1 else {
            throw FileError(path: path, "images have shape \(s), expected [n, \(size), \(size)], [n, 1, \(size), \(size)] "
                            + "or [n, \(size), \(size), 1] with n >= 1 (one channel: the FID classifier sees gray Fashion-MNIST images)")
        }
        let values = array.floats
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw FileError(path: path, "image \(bad / (size * size)) holds a non-finite value (\(values[bad]))")
        }
        return Tensor(shape: [n, size, size, 1], values: values)
    }
}
