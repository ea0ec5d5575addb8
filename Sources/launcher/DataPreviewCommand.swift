import ArgumentParser
import Diffusion
import Foundation

/// Writes a grid of preprocessed (32x32) training images and lists their classes.
struct DataPreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-preview",
        abstract: "Write a PNG grid of training images after preprocessing and print their classes.",
        discussion: """
        Fashion-MNIST by default (the recipe's 28 -> 32 resize). With --data, your images (docs/data.md): \
        what was read, skipped and converted is printed, and the grid shows them resized to --size \
        (short side) and centre-cropped, with --channels channels.
        """)

    @OptionGroup(title: "Your own data (docs/data.md)") var dataFlags: DataFlags
    @Option(help: "With --data: the model's sample_size the images are resized and cropped to.") var size = Preprocess.imageSize
    @Option(help: "With --data: the model's in_channels (1 gray, 3 RGB).") var channels = 1

    @Option(help: "PNG file to write.")
    var out: String

    @Option(help: "Directory with the Fashion-MNIST .gz files.")
    var dataDir: String = FashionMNIST.defaultDirectory

    @Option(help: "Number of images: the first ones of the split, or with --data spread evenly over the set (so every class of a class folder shows).")
    var count: Int = 64

    @Option(help: "Split: train or test.")
    var split: FashionMNIST.Split = .train

    @Option(help: "Images per row (default: a near-square grid).")
    var columns: Int?

    func validate() throws {
        try OptionCheck.integer(count, "--count", 1...100_000)
        if let columns { try OptionCheck.integer(columns, "--columns", 1...10_000) }
    }

    func run() throws {
        if dataFlags.data != nil { return try runOnData() }
        let dataset = try FashionMNIST.load(split: split, directory: dataDir)
        let shown = Array(0..<min(count, dataset.count))
        let images = Preprocess.images(dataset, indices: shown)
        let grid = ImageGrid.make(images: images, columns: columns)
        try PNG.write(grayscale: grid.pixels, width: grid.width, height: grid.height, to: out)
        let perRow = columns ?? ImageGrid.defaultColumns(count: shown.count)
        print("wrote \(out): \(shown.count) \(split.rawValue) images, \(grid.width)x\(grid.height) pixels")
        for start in stride(from: 0, to: shown.count, by: perRow) {
            print(shown[start..<min(start + perRow, shown.count)].map { dataset.className($0) }.joined(separator: ", "))
        }
    }

    func runOnData() throws {
        guard let data = try dataFlags.load(SingleProcess()) else { return }
        // Evenly spaced: a class folder is listed class by class, so the first images would
        // all be of the first class.
        let k = min(count, data.count)
        let shown = (0..<k).map { $0 * data.count / k }
        let settings = PreprocessSettings(size: size, channels: channels, centerCrop: true)
        for note in ImagePreprocess.notes(data.images, settings: settings) { print("  note: \(note)") }
        let (images, _) = try ImagePreprocess.prepare(data.images, indices: shown, settings: settings)
        try PNG.write(ImageGrid.make(images: images, columns: columns), to: out)
        print("wrote \(out): \(shown.count) images at \(size)x\(size)")
        if let labels = data.labels, let names = data.classNames {
            let perRow = columns ?? ImageGrid.defaultColumns(count: shown.count)
            for start in stride(from: 0, to: shown.count, by: perRow) {
                print(shown[start..<min(start + perRow, shown.count)].map { names[labels[$0]] }.joined(separator: ", "))
            }
        }
    }
}
