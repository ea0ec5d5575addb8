import Foundation

/// How images become the model's input, after diffusers' train_unconditional.py: resize the
/// short side to `size`, crop to size x size (centre, or a random crop drawn per training
/// sample), optionally flip left-right at random, convert to the model's channels, map
/// 0...255 to [-0.5, 0.5] (this project's recipe; diffusers maps to [-1, 1]).
public struct PreprocessSettings: Sendable, Codable, Equatable {
    /// The config's sample_size.
    public var size: Int
    /// The config's in_channels.
    public var channels: Int
    /// Centre crop (--center-crop); otherwise a random crop per training sample.
    public var centerCrop: Bool
    /// Flip each training sample left-right with probability 1/2 (--random-flip).
    public var randomFlip: Bool

    public init(size: Int, channels: Int, centerCrop: Bool = false, randomFlip: Bool = false) {
        self.size = size; self.channels = channels; self.centerCrop = centerCrop; self.randomFlip = randomFlip
    }
}

public enum ImagePreprocess {
    /// Channels of the prepared tensor: 1 for a one-channel model (RGB converted by luma);
    /// 3 for an RGB model with any RGB image; 1 when all images are gray (the trainer
    /// replicates gray into the model's channels per batch, as for Fashion-MNIST).
    public static func tensorChannels(_ images: RawImages, modelChannels: Int) throws -> Int {
        let rgb = images.channels.contains(3)
        if modelChannels == 1 || !rgb { return 1 }
        guard modelChannels == 3 else {
            throw DataSetError("the data holds RGB images but the model has in_channels \(modelChannels): "
                               + "expected in_channels 3 (RGB) or 1 (converted to gray by luma)")
        }
        return 3
    }

    /// Notes on the conversions `prepare` will make, for the user.
    public static func notes(_ images: RawImages, settings: PreprocessSettings) -> [String] {
        var notes: [String] = []
        let rgb = images.channels.filter { $0 == 3 }.count, gray = images.count - rgb
        if settings.channels == 1 && rgb > 0 { notes.append("\(rgb) RGB image(s) converted to gray by luma (L = 0.299 R + 0.587 G + 0.114 B)") }
        if settings.channels > 1 && gray > 0 { notes.append("\(gray) gray image(s) replicated into the model's \(settings.channels) channels") }
        let sizes = Set((0..<images.count).map { "\(images.widths[$0])x\(images.heights[$0])" })
        let s = settings.size
        if sizes != ["\(s)x\(s)"] {
            let square = (0..<images.count).allSatisfy { images.widths[$0] == images.heights[$0] }
            notes.append("images of \(sizes.count == 1 ? "size " + sizes.first! : "\(sizes.count) sizes (\(images.sizeSummary))") "
                         + "resized so the short side is \(s) (bilinear; antialiased when shrinking, as PIL)"
                         + (square ? "" : ", then " + (settings.centerCrop ? "centre-cropped" : "randomly cropped per sample") + " to \(s)x\(s)"))
        }
        return notes
    }

    /// Where the images of a set go in the prepared tensor [n, S, L, C]: each image resized so
    /// its short side is S, with the long side L kept for random crops (a portrait image
    /// stored transposed, padded to the longest); with a centre crop, or square images, L = S.
    /// The same for the whole set whether it is prepared at once or batch by batch.
    public struct Layout: Sendable {
        public let size: Int, length: Int, channels: Int
        /// Per image: its resized rows and columns, and its long side.
        let resized: [(rows: Int, columns: Int)]
        let lengths: [Int]
        let randomCrop: Bool

        /// [n, S, L, C].
        public var shape: [Int] { [resized.count, size, length, channels] }

        /// The per-batch crops and flips of this layout.
        public func augmentation(randomFlip: Bool) -> BatchAugmentation {
            var augmentation = BatchAugmentation(size: size, randomFlip: randomFlip)
            if randomCrop {
                augmentation.lengths = lengths
                augmentation.transposed = resized.map { $0.rows > $0.columns }
            }
            return augmentation
        }
    }

    /// The layout of `images` (all of `indices`, in that order) for `settings`.
    public static func layout(_ images: RawImages, indices: [Int], settings: PreprocessSettings) throws -> Layout {
        let s = settings.size
        let c = try tensorChannels(images, modelChannels: settings.channels)
        // Resized sizes (torchvision's Resize(int): short side S, long side int(S * long / short)).
        let resized: [(rows: Int, columns: Int)] = indices.map { i in
            let h = images.heights[i], w = images.widths[i]
            return w <= h ? (s * h / w, s) : (s, s * w / h)
        }
        let lengths = resized.map { max($0.rows, $0.columns) }
        let randomCrop = !settings.centerCrop && lengths.contains { $0 > s }
        return Layout(size: s, length: randomCrop ? lengths.max()! : s, channels: c, resized: resized, lengths: lengths,
                      randomCrop: randomCrop)
    }

    /// Writes `image`, the `slot`-th image of `layout`, prepared into `base` ([S, L, C] floats).
    static func fill(_ image: DecodedImage, slot k: Int, layout: Layout, into base: UnsafeMutablePointer<Float>) {
        let s = layout.size, l = layout.length, c = layout.channels
        let converted = convert(image, to: c)
        let (rows, columns) = layout.resized[k]
        let planes = (0..<c).map { resize(plane(converted, channel: $0, channels: c), rows: image.height, columns: image.width,
                                          toRows: rows, toColumns: columns) }
        if layout.randomCrop {
            // Landscape as it is, portrait transposed: rows = S, columns = long side.
            let transposed = rows > columns
            for y in 0..<s {
                for x in 0..<layout.lengths[k] {
                    for ch in 0..<c { base[(y * l + x) * c + ch] = transposed ? planes[ch][x * columns + y] : planes[ch][y * columns + x] }
                }
            }
        } else {
            // torchvision's CenterCrop: offsets int(round((in - S) / 2)), Python's round (half to even).
            let top = Int((Double(rows - s) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(columns - s) / 2).rounded(.toNearestOrEven))
            for y in 0..<s {
                for x in 0..<s {
                    for ch in 0..<c { base[(y * l + x) * c + ch] = planes[ch][(y + top) * columns + x + left] }
                }
            }
        }
    }

    /// The images `slots` of `layout` (positions in it; `indices[slot]` in `images`) as
    /// [slots.count, S, L, C], prepared over the worker threads.
    static func prepare(_ images: RawImages, indices: [Int], slots: [Int], layout: Layout) -> Tensor {
        let s = layout.size, l = layout.length, c = layout.channels
        let out = Tensor(shape: [slots.count, s, l, c])
        let dst = out.data
        Parallel.forRanges(slots.count, minChunk: 16) { range in
            for k in range { fill(images.image(indices[slots[k]]), slot: slots[k], layout: layout, into: dst + k * s * l * c) }
        }
        return out
    }

    /// The prepared images of `indices` (all by default), [n, S, L, C] as `Layout` says, and
    /// the per-batch augmentation that turns them into training samples.
    public static func prepare(_ images: RawImages, indices: [Int]? = nil, settings: PreprocessSettings) throws -> (Tensor, BatchAugmentation) {
        let ids = indices ?? Array(0..<images.count)
        let layout = try layout(images, indices: ids, settings: settings)
        return (prepare(images, indices: ids, slots: Array(ids.indices), layout: layout), layout.augmentation(randomFlip: settings.randomFlip))
    }

    /// `image` with `channels` channels: gray replicated, RGB to gray by PIL's integer luma.
    static func convert(_ image: DecodedImage, to channels: Int) -> DecodedImage {
        if image.channels == channels { return image }
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n * channels)
        if channels == 1 {
            // PIL's convert("L"): (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
            for p in 0..<n {
                let r = UInt32(image.pixels[3 * p]), g = UInt32(image.pixels[3 * p + 1]), b = UInt32(image.pixels[3 * p + 2])
                out[p] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        } else {
            for p in 0..<n { for k in 0..<channels { out[p * channels + k] = image.pixels[p] } }
        }
        return DecodedImage(width: image.width, height: image.height, channels: channels, pixels: out)
    }

    static func plane(_ image: DecodedImage, channel: Int, channels: Int) -> [UInt8] {
        if channels == 1 { return image.pixels }
        return (0..<(image.width * image.height)).map { image.pixels[$0 * channels + channel] }
    }

    /// One 8-bit plane resized to floats in [-0.5, 0.5]. Growing (or keeping) both sides is
    /// PyTorch's bilinear (`BilinearResize`, the recipe's 28 -> 32 exactly); shrinking uses
    /// PIL's antialiased bilinear: a triangle filter stretched by the scale factor.
    static func resize(_ src: [UInt8], rows: Int, columns: Int, toRows: Int, toColumns: Int) -> [Float] {
        if toRows >= rows && toColumns >= columns {
            let r = BilinearResize(inRows: rows, inColumns: columns, outRows: toRows, outColumns: toColumns, arithmetic: .float)
            var out = [Float](repeating: 0, count: toRows * toColumns)
            src.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { r.resize(s.baseAddress!, into: $0.baseAddress!, scale: 1 / 255, offset: -0.5) }
            }
            return out
        }
        let columnTaps = AntialiasTaps(inSize: columns, outSize: toColumns)
        let rowTaps = AntialiasTaps(inSize: rows, outSize: toRows)
        var horizontal = [Float](repeating: 0, count: rows * toColumns)
        for y in 0..<rows {
            for x in 0..<toColumns {
                var acc: Float = 0
                for k in 0..<columnTaps.count[x] { acc += Float(src[y * columns + columnTaps.first[x] + k]) * columnTaps.weight(x, k) }
                horizontal[y * toColumns + x] = acc
            }
        }
        var out = [Float](repeating: 0, count: toRows * toColumns)
        for y in 0..<toRows {
            for x in 0..<toColumns {
                var acc: Float = 0
                for k in 0..<rowTaps.count[y] { acc += horizontal[(rowTaps.first[y] + k) * toColumns + x] * rowTaps.weight(y, k) }
                out[y * toColumns + x] = acc / 255 - 0.5
            }
        }
        return out
    }
}

/// Pillow's precompute_coeffs for its bilinear (triangle) filter: when shrinking by a factor
/// f the triangle is f wide, so every input pixel contributes (an area-like average).
struct AntialiasTaps {
    var first: [Int] = [], count: [Int] = [], weights: [[Float]] = []

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filterScale
        for x in 0..<outSize {
            let center = (Double(x) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var w = (lo..<hi).map { i -> Double in
                let d = abs((Double(i) - center + 0.5) / filterScale)
                return d < 1 ? 1 - d : 0
            }
            let sum = w.reduce(0, +)
            if sum > 0 { w = w.map { $0 / sum } }
            first.append(lo); count.append(hi - lo); weights.append(w.map(Float.init))
        }
    }

    func weight(_ x: Int, _ k: Int) -> Float { weights[x][k] }
}

/// What happens to each training sample when its batch is gathered: a random crop along the
/// long side (images whose resized long side exceeds S) and a random left-right flip. The
/// draws come from (seed, the sample's position in the global batch), so a step's samples
/// are the same at any rank count.
public struct BatchAugmentation: Sendable, Equatable {
    public var size: Int
    public var randomFlip: Bool
    /// Per image (of the prepared tensor): its stored long side, and whether it is stored transposed.
    public var lengths: [Int]?
    public var transposed: [Bool]?

    public init(size: Int, randomFlip: Bool = false) { self.size = size; self.randomFlip = randomFlip }

    public var isIdentity: Bool { lengths == nil && !randomFlip }

    /// Keeps the augmentation's draws apart from the noise's and the shuffle's streams.
    static let salt: UInt64 = 0xA0_6E_0000_0003

    /// The samples `indices` of `images` ([n, S, L, C]) as [count, S, S, C], the k-th
    /// transformed by the draws of stream key `keys[k]`.
    public func batch(from images: Tensor, indices: [Int], keys: [UInt64], seed: UInt64) -> Tensor {
        batch(from: images, rows: indices, indices: indices, keys: keys, seed: seed)
    }

    /// As `batch(from:indices:keys:seed:)`, sample k being image `indices[k]` of the set
    /// (its long side, its orientation) stored at `rows[k]` of `images`: a streamed batch
    /// holds only its own images.
    func batch(from images: Tensor, rows: [Int], indices: [Int], keys: [UInt64], seed: UInt64) -> Tensor {
        let s = size, l = images.shape[2], c = images.shape[3]
        let out = Tensor(uninitialized: [indices.count, s, s, c])
        for (k, index) in indices.enumerated() {
            var rng = RandomStream(seed: seed ^ Self.salt, key: keys[k])
            let length = lengths?[index] ?? s
            let offset = length > s ? rng.int(below: length - s + 1) : 0
            let flip = randomFlip && rng.int(below: 2) == 1
            let transpose = transposed?[index] ?? false
            let src = images.data + rows[k] * s * l * c
            let dst = out.data + k * s * s * c
            for y in 0..<s {
                for x in 0..<s {
                    let sx = flip ? s - 1 - x : x
                    // Stored row/column of output (y, sx): a portrait image is stored transposed.
                    let (row, column) = transpose ? (sx, offset + y) : (y, offset + sx)
                    (dst + (y * s + x) * c).update(from: src + (row * l + column) * c, count: c)
                }
            }
        }
        return out
    }
}

/// Data that does not fit what it is asked to do (a model, a classifier).
public struct DataSetError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
