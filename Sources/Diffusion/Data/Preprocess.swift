/// The recipe's input pipeline: torchvision `Resize((32, 32))` (bilinear) on the 28x28
/// images, then pixels scaled to [0, 1] and shifted by -0.5, as NHWC Float32 [n, 32, 32, 1].
public enum Preprocess {
    public static let imageSize = 32

    /// The values training images take (0 and 255 mapped by x/255 - 0.5); samplers' final
    /// images are clipped to it by default, as diffusers' pipelines clamp theirs.
    public static let valueRange: ClosedRange<Float> = -0.5...0.5

    /// How the bilinear resize rounds. Both use half-pixel centres with clamped edges
    /// (PyTorch's align_corners=False): output pixel x samples the input at
    /// src = (x + 0.5) * in/out - 0.5, clamped to [0, in-1], and mixes the two neighbours
    /// floor(src) and floor(src)+1 linearly. When upscaling, antialiasing changes nothing.
    public enum Arithmetic: Sendable {
        /// In floating point, as `Resize` does on a tensor (ToTensor first).
        case float
        /// As `Resize` does on a PIL image (before ToTensor): Pillow's two passes,
        /// horizontal then vertical, each with 22-bit fixed-point weights and the result
        /// rounded to 8 bits. Differs from `.float` by at most one gray level.
        case pillow
    }

    /// Resizes the dataset's images (all, or those at `indices`) to `size`x`size` and maps
    /// 0...255 to [-0.5, 0.5]: a [n, size, size, 1] tensor, computed in parallel.
    public static func images(_ dataset: Dataset, indices: [Int]? = nil, size: Int = imageSize,
                              arithmetic: Arithmetic = .float) -> Tensor {
        let n = indices?.count ?? dataset.count
        let out = Tensor(shape: [n, size, size, 1])
        let resizer = BilinearResize(inRows: dataset.rows, inColumns: dataset.columns,
                                     outRows: size, outColumns: size, arithmetic: arithmetic)
        let inPlane = dataset.rows * dataset.columns
        let outPlane = size * size
        let dst = out.data
        dataset.images.withUnsafeBufferPointer { src in
            Parallel.forRanges(n, minChunk: 64) { range in
                for i in range {
                    let image = indices?[i] ?? i
                    resizer.resize(src.baseAddress! + image * inPlane, into: dst + i * outPlane,
                                   scale: 1 / 255, offset: -0.5)
                }
            }
        }
        return out
    }

    /// Fashion-MNIST is grayscale: a model with C > 1 input channels (an RGB model) sees each
    /// gray image replicated into all C channels. `images` [n, h, w, 1] -> [n, h, w, C].
    public static func replicatingChannels(_ images: Tensor, to channels: Int) -> Tensor {
        precondition(images.shape.count == 4 && images.shape[3] == 1, "replicates one channel, got \(images.shape)")
        if channels == 1 { return images }
        let out = Tensor(uninitialized: Array(images.shape.dropLast()) + [channels])
        for p in 0..<images.count {
            (out.data + p * channels).update(repeating: images[p], count: channels)
        }
        return out
    }
}

/// A bilinear resize of 8-bit single-channel images between two fixed sizes, with the
/// taps worked out once.
public struct BilinearResize: Sendable {
    public let inRows: Int, inColumns: Int, outRows: Int, outColumns: Int
    public let arithmetic: Preprocess.Arithmetic
    private let rowTaps: Taps
    private let columnTaps: Taps

    /// For output position i: the input positions `first[i] ..< first[i] + count[i]` with
    /// `weights[i * 2 + k]` (the weights of a position sum to 1).
    struct Taps: Sendable {
        var first: [Int] = []
        var count: [Int] = []
        var weights: [Double] = []
        /// Pillow's fixed-point weights (weights * 2^22, rounded half away from zero).
        var fixed: [Int32] = []
    }

    public init(inRows: Int, inColumns: Int, outRows: Int, outColumns: Int, arithmetic: Preprocess.Arithmetic) {
        self.inRows = inRows; self.inColumns = inColumns
        self.outRows = outRows; self.outColumns = outColumns
        self.arithmetic = arithmetic
        rowTaps = Self.taps(inSize: inRows, outSize: outRows, arithmetic: arithmetic)
        columnTaps = Self.taps(inSize: inColumns, outSize: outColumns, arithmetic: arithmetic)
    }

    static let fixedBits = 22

    static func taps(inSize: Int, outSize: Int, arithmetic: Preprocess.Arithmetic) -> Taps {
        precondition(inSize <= outSize, "BilinearResize upsamples only (\(inSize) -> \(outSize)): downsampling needs an antialias filter")
        let scale = Double(inSize) / Double(outSize)
        var t = Taps()
        for x in 0..<outSize {
            var w = [0.0, 0.0]
            let first: Int
            let count: Int
            switch arithmetic {
            case .float:
                // PyTorch's upsample_bilinear2d (align_corners=False).
                let src = max((Double(x) + 0.5) * scale - 0.5, 0)
                first = min(Int(src), inSize - 1)
                count = first < inSize - 1 ? 2 : 1
                let lambda = count == 2 ? src - Double(first) : 0
                w = [1 - lambda, lambda]
            case .pillow:
                // Pillow's precompute_coeffs with the triangle filter (support 1 when
                // upscaling): taps whose centre lies within 1 of the sample point, weights
                // normalized to sum 1, which clamps at the edges.
                let center = (Double(x) + 0.5) * scale
                let lo = max(Int(center - 1 + 0.5), 0)   // C's (int) truncates toward 0
                let hi = min(Int(center + 1 + 0.5), inSize)
                first = lo
                count = hi - lo
                precondition(count >= 1 && count <= 2, "unexpected tap count \(count)")
                var sum = 0.0
                for k in 0..<count {
                    let d = abs(Double(lo + k) - center + 0.5)
                    w[k] = d < 1 ? 1 - d : 0
                    sum += w[k]
                }
                for k in 0..<count { w[k] /= sum }
            }
            t.first.append(first)
            t.count.append(count)
            t.weights += w
            t.fixed += w.map { Int32(($0 * Double(1 << fixedBits)).rounded(.toNearestOrAwayFromZero)) }
        }
        return t
    }

    /// Resizes one image of `inRows x inColumns` bytes into `outRows x outColumns` floats,
    /// each `value * scale + offset` (value on the 0...255 scale).
    public func resize(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>,
                       scale: Float = 1, offset: Float = 0) {
        switch arithmetic {
        case .float:
            // Pointers to the tap tables: this loop runs 61M times for the training set.
            columnTaps.first.withUnsafeBufferPointer { cFirst in
            columnTaps.count.withUnsafeBufferPointer { cCount in
            columnTaps.weights.withUnsafeBufferPointer { cWeight in
                for y in 0..<outRows {
                    let y0 = rowTaps.first[y], y1 = y0 + rowTaps.count[y] - 1
                    let wy0 = Float(rowTaps.weights[2 * y]), wy1 = Float(rowTaps.weights[2 * y + 1])
                    let r0 = src + y0 * inColumns, r1 = src + y1 * inColumns
                    let out = dst + y * outColumns
                    for x in 0..<outColumns {
                        let x0 = cFirst[x], x1 = x0 + cCount[x] - 1
                        let wx0 = Float(cWeight[2 * x]), wx1 = Float(cWeight[2 * x + 1])
                        let top = wx0 * Float(r0[x0]) + wx1 * Float(r0[x1])
                        let bottom = wx0 * Float(r1[x0]) + wx1 * Float(r1[x1])
                        out[x] = (wy0 * top + wy1 * bottom) * scale + offset
                    }
                }
            }
            }
            }
        case .pillow:
            let half = Int32(1) << Int32(Self.fixedBits - 1)
            func round8(_ acc: Int32) -> UInt8 { UInt8(clamping: acc >> Int32(Self.fixedBits)) }
            // Horizontal pass over every input row, then vertical, each rounded to 8 bits.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: inRows * outColumns) { tmp in
                for y in 0..<inRows {
                    for x in 0..<outColumns {
                        var acc = half
                        for k in 0..<columnTaps.count[x] {
                            acc += Int32(src[y * inColumns + columnTaps.first[x] + k]) * columnTaps.fixed[2 * x + k]
                        }
                        tmp[y * outColumns + x] = round8(acc)
                    }
                }
                for y in 0..<outRows {
                    for x in 0..<outColumns {
                        var acc = half
                        for k in 0..<rowTaps.count[y] {
                            acc += Int32(tmp[(rowTaps.first[y] + k) * outColumns + x]) * rowTaps.fixed[2 * y + k]
                        }
                        dst[y * outColumns + x] = Float(round8(acc)) * scale + offset
                    }
                }
            }
        }
    }

    /// Convenience for one image held in an array: values on the 0...255 scale.
    public func resize(_ pixels: [UInt8]) -> [Float] {
        precondition(pixels.count == inRows * inColumns, "\(pixels.count) pixels for a \(inRows)x\(inColumns) image")
        var out = [Float](repeating: 0, count: outRows * outColumns)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { resize(src.baseAddress!, into: $0.baseAddress!) }
        }
        return out
    }
}
