import Foundation

/// Images from a .npy array: [N, H, W] (gray), [N, H, W, C] or [N, C, H, W] with C of 1, 3
/// or 4 (channels last is tried first; a 4th channel is alpha, dropped). uint8 values are
/// used as they are; other dtypes are mapped from their value range (`DataSpec.valueRange`,
/// or inferred: [0, 1], [-1, 1] or [0, 255], whichever holds all values, and said in a
/// note) to 0...255 and rounded, as a PNG would store them. Labels come from `--labels`, a
/// 1-D integer .npy of N classes in 0...K-1 (K = the largest label + 1, named "0".."K-1").
public enum NPYImages {
    public static func load(_ spec: DataSpec) throws -> TrainingData {
        let path = spec.path
        let bytes = try FileBytes.read(path)
        let (descr, shape, values) = try NPY.decodeNumbers(bytes, name: path)
        let layout = try Self.layout(shape, path: path)
        var notes: [String] = []
        let eight: [UInt8]
        if descr == "|u1" || descr == "<u1" {
            eight = values.map { UInt8($0) }
        } else {
            let range = try range(values, given: spec.valueRange, path: path, descr: descr, notes: &notes)
            let scale = 255 / (range[1] - range[0])
            eight = values.map { UInt8(max(0, min(255, (($0 - range[0]) * scale).rounded()))) }
        }
        // To [N, H, W, C] with C 1 or 3.
        let (n, h, w, c) = (layout.count, layout.height, layout.width, layout.channels)
        let kept = c == 4 ? 3 : c
        var pixels = [UInt8](repeating: 0, count: n * h * w * kept)
        for i in 0..<n {
            for y in 0..<h {
                for x in 0..<w {
                    for k in 0..<kept {
                        let src = layout.channelsFirst ? ((i * c + k) * h + y) * w + x : ((i * h + y) * w + x) * c + k
                        pixels[((i * h + y) * w + x) * kept + k] = eight[src]
                    }
                }
            }
        }
        if c == 4 { notes.append("\(path): 4 channels read as RGBA; the alpha channel is dropped") }
        var data = TrainingData(images: RawImages(uniform: pixels, count: n, height: h, width: w, channels: kept),
                                labels: nil, classNames: nil, source: "array \(path) \(shape) \(descr)")
        if let labelsPath = spec.labelsPath {
            let labels = try Self.labels(labelsPath, count: n, imagesPath: path)
            data.labels = labels
            data.classNames = (0...(labels.max() ?? 0)).map(String.init)
        }
        data.notes = notes
        return data
    }

    struct Layout { var count: Int, height: Int, width: Int, channels: Int, channelsFirst: Bool }

    static func layout(_ shape: [Int], path: String) throws -> Layout {
        let channelCounts = [1, 3, 4]
        func bad(_ why: String) -> FileError {
            FileError(path: path, "array of shape \(shape) \(why): expected [N, H, W], [N, H, W, C] or [N, C, H, W] with C of 1, 3 or 4 "
                      + "and N, H, W at least 1")
        }
        guard !shape.contains(0) else { throw bad("holds no images") }
        switch shape.count {
        case 3: return Layout(count: shape[0], height: shape[1], width: shape[2], channels: 1, channelsFirst: false)
        case 4 where channelCounts.contains(shape[3]):
            return Layout(count: shape[0], height: shape[1], width: shape[2], channels: shape[3], channelsFirst: false)
        case 4 where channelCounts.contains(shape[1]):
            return Layout(count: shape[0], height: shape[2], width: shape[3], channels: shape[1], channelsFirst: true)
        case 4: throw bad("has no axis of 1, 3 or 4 channels")
        default: throw bad("has \(shape.count) dimensions")
        }
    }

    static func range(_ values: [Double], given: [Double]?, path: String, descr: String, notes: inout [String]) throws -> [Double] {
        guard let lo = values.min(), let hi = values.max(), lo.isFinite, hi.isFinite else {
            throw FileError(path: path, "holds NaN or infinite values: expected finite pixel values")
        }
        if let given {
            guard lo >= given[0], hi <= given[1] else {
                throw FileError(path: path, "values span [\(lo), \(hi)], outside the --value-range [\(given[0]), \(given[1])]")
            }
            return given
        }
        let candidates: [[Double]] = [[0, 1], [-1, 1], [0, 255]]
        guard let range = candidates.first(where: { lo >= $0[0] && hi <= $0[1] }) else {
            throw FileError(path: path, "\(descr) values span [\(lo), \(hi)], not within [0, 1], [-1, 1] or [0, 255]: "
                            + "give their range with --value-range LOW,HIGH")
        }
        notes.append("\(path): \(descr) values span [\(lo), \(hi)]; read as the range [\(range[0]), \(range[1])] "
                     + "(give --value-range LOW,HIGH to say otherwise)")
        return range
    }

    /// A 1-D array of `count` non-negative whole numbers.
    static func labels(_ path: String, count: Int, imagesPath: String) throws -> [Int] {
        let (descr, shape, values) = try NPY.decodeNumbers(try FileBytes.read(path), name: path)
        guard shape.count == 1, shape[0] == count else {
            throw FileError(path: path, "labels of shape \(shape): expected [\(count)], one per image of \(imagesPath)")
        }
        if let bad = values.firstIndex(where: { $0 < 0 || $0 != $0.rounded() || $0 > 1_000_000 }) {
            throw FileError(path: path, "label \(bad) is \(values[bad]) (\(descr)): expected whole numbers 0, 1, ... (the class of each image)")
        }
        return values.map { Int($0) }
    }
}
