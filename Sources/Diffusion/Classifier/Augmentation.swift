/// Light augmentation for classifier training: a random horizontal flip and a random shift
/// of up to `maxShift` pixels each way, the uncovered border filled with the background.
///
/// Keyed like the rest of training: the image at position j of global batch s draws from
/// stream (seed, s * globalBatch + j), so what a step sees does not depend on the rank count.
public struct Augmentation: Sendable, Equatable, Codable {
    public var flip = true
    public var maxShift = 2
    /// The value of an empty pixel ([-0.5, 0.5] images: -0.5 is Fashion-MNIST's black).
    public var background: Float = -0.5

    public init(flip: Bool = true, maxShift: Int = 2) {
        self.flip = flip; self.maxShift = maxShift
    }

    public var isIdentity: Bool { !flip && maxShift == 0 }

    /// Augments `images` ([N, H, W, C]) in place; image i uses stream (seed, keys[i]).
    public func apply(to images: Tensor, keys: [UInt64], seed: UInt64) {
        precondition(images.shape.count == 4 && keys.count == images.shape[0],
                     "augmentation: \(keys.count) keys for images \(images.shape)")
        if isIdentity { return }
        let (h, w, c) = (images.shape[1], images.shape[2], images.shape[3])
        let perImage = h * w * c
        let (flip, maxShift, background) = (self.flip, self.maxShift, self.background)
        Parallel.forEach(keys.count) { i in
            var rng = RandomStream(seed: seed, key: keys[i])
            let mirrored = flip && rng.uniform() < 0.5
            let dy = maxShift > 0 ? rng.int(below: 2 * maxShift + 1) - maxShift : 0
            let dx = maxShift > 0 ? rng.int(below: 2 * maxShift + 1) - maxShift : 0
            if !mirrored && dy == 0 && dx == 0 { return }
            let image = images.data + i * perImage
            let source = UnsafeMutablePointer<Float>.allocate(capacity: perImage)
            defer { source.deallocate() }
            source.update(from: image, count: perImage)
            // Output (y, x) shows input (y - dy, x - dx) of the (possibly mirrored) image.
            for y in 0..<h {
                let sy = y - dy
                for x in 0..<w {
                    var sx = x - dx
                    let out = image + (y * w + x) * c
                    guard sy >= 0 && sy < h && sx >= 0 && sx < w else {
                        out.update(repeating: background, count: c)
                        continue
                    }
                    if mirrored { sx = w - 1 - sx }
                    out.update(from: source + (sy * w + sx) * c, count: c)
                }
            }
        }
    }
}
