import ArgumentParser
import Diffusion
import Foundation

/// --data and what goes with it: the images a command reads instead of Fashion-MNIST
/// (docs/data.md).
struct DataFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Your data instead of Fashion-MNIST: a folder of PNG/JPEG images (one subfolder per class gives "
                               + "labels), a .npy array [N,H,W], [N,H,W,C] or [N,C,H,W], an MNIST-format IDX images file, or a "
                               + "folder with train-images-idx3-ubyte[.gz]. See docs/data.md.", valueName: "path"))
    var data: String?
    @Option(help: ArgumentHelp("Labels for --data: a 1-D integer .npy (one class per image), or an IDX labels file "
                               + "(default: the images file's labels-idx1 sibling).", valueName: "path"))
    var labels: String?
    @Flag(help: "Refuse the data when any file in the folder is not a readable image (default: skip it and count it).")
    var strict = false
    @Option(help: ArgumentHelp("The value range of a float .npy, mapped to 0...255 (default: inferred from the values, "
                               + "[0,1], [-1,1] or [0,255], and printed).", valueName: "low,high"))
    var valueRange: String?
    @OptionGroup var cache: DataCacheFlags

    func validate() throws {
        if data == nil {
            if labels != nil { throw ValidationError("--labels needs --data") }
            if strict { throw ValidationError("--strict needs --data") }
            if valueRange != nil { throw ValidationError("--value-range needs --data") }
            if cache.given { throw ValidationError("--data-cache and --no-data-cache need --data") }
        }
        _ = try parsedRange()
    }

    func parsedRange() throws -> [Double]? {
        guard let valueRange else { return nil }
        let parts = valueRange.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo.isFinite, hi.isFinite, lo < hi else {
            throw ValidationError("--value-range '\(valueRange)': expected LOW,HIGH with LOW < HIGH, such as 0,1 or -1,1")
        }
        return [lo, hi]
    }

    var spec: DataSpec? {
        data.map { DataSpec(path: $0, labelsPath: labels, strict: strict, valueRange: try? parsedRange(), cacheDirectory: cache.directory) }
    }

    /// Loads --data on every rank and prints what was read (rank 0). Collective.
    func load(_ comm: Collectives) throws -> TrainingData? {
        guard let spec else { return nil }
        let data = try TrainingDataLoader.load(spec, group: comm)
        if comm.isRoot {
            print("data: \(data.summary)")
            for skip in data.skipped.prefix(5) { print("  skipped \(skip)") }
            if data.skipped.count > 5 { print("  ... and \(data.skipped.count - 5) more unreadable file(s)") }
            for file in data.nonImageFiles.prefix(3) { print("  skipped non-image file \(file)") }
            if data.nonImageFiles.count > 3 { print("  ... and \(data.nonImageFiles.count - 3) more non-image file(s)") }
            for note in data.notes { print("  note: \(note)") }
        }
        return data
    }
}

/// --center-crop and --random-flip: how training samples are cut from the resized images.
struct PreprocessFlags: ParsableArguments {
    @Flag(help: "Crop the centre of each resized image (default: a random crop per training sample, as diffusers).")
    var centerCrop = false
    @Flag(help: "Flip each training sample left-right with probability 1/2.")
    var randomFlip = false
}

/// Where decoded image folders are cached between runs (`DecodedCache`, docs/data.md).
struct DataCacheFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of the decoded-image cache of --data folders, reused by later runs and by every rank on "
                               + "the host (default: $XDG_CACHE_HOME/fashion-diffusion/data or ~/.cache/fashion-diffusion/data).",
                               valueName: "folder"))
    var dataCache: String?
    @Flag(help: "Decode image folders into memory only, without the on-disk cache.") var noDataCache = false

    var given: Bool { dataCache != nil || noDataCache }

    func validate() throws {
        if dataCache != nil && noDataCache { throw ValidationError("--data-cache and --no-data-cache exclude each other") }
    }

    /// The cache folder, or nil with --no-data-cache.
    var directory: String? { noDataCache ? nil : dataCache ?? DecodedCache.defaultDirectory() }
}
