import ArgumentParser
import Diffusion

/// Writes a grid of preprocessed (32x32) training images and lists their classes.
struct DataPreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-preview",
        abstract: "Write a PNG grid of Fashion-MNIST images after the 32x32 preprocessing and print their classes.")

    @Option(help: "PNG file to write.")
    var out: String

    @Option(help: "Directory with the Fashion-MNIST .gz files.")
    var dataDir: String = FashionMNIST.defaultDirectory

    @Option(help: "Number of images (the first ones of the split).")
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
}

