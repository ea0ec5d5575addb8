import Foundation

/// Class accuracy and FID against the guidance scale w of classifier-free guidance (Ho &
/// Salimans 2022 show the trade: larger w, images more typical of their class, less diverse).
/// For each w: n images with `--class all` (n / K per class, the same seed and so the same
/// x_T at every w), split across the ranks; the classifier classifies them (accuracy per class
/// and overall) and gives FID and KID against the reference: the real test images with the
/// committed classifier, or the model's own data with a classifier trained on it.
public enum GuidanceSweep {
    /// The scales of the table.
    public static let standardScales: [Double] = [0, 1, 2, 3, 5]

    public struct Row: Codable, Sendable {
        public let scale: Double
        /// Fraction of images the classifier assigns to the class asked for.
        public let accuracy: Double
        /// The same per class (index = class; nil where no image was drawn).
        public let perClassAccuracy: [Double?]
        public let fid: Double
        public let kidMean: Double?, kidStd: Double?
        public let images: Int
        /// Model calls per image trajectory, and images per call per sampled image (2 when guided).
        public let modelEvaluations: Int, passes: Int
        public let seconds: Double
        /// The classes' names (the model's data.json; nil: Fashion-MNIST's, as files from before it).
        public var classNames: [String]? = nil
    }

    /// Accuracy means "the classifier names the class asked for" only when the classifier's
    /// classes are the model's: the same names in the same order (data.json of each; none
    /// means Fashion-MNIST's).
    public static func checkClasses(model modelNames: [String], classifier directory: String) throws {
        let names = try DataRecord.read(from: directory)?.classNames ?? FashionMNIST.classNames
        guard names == modelNames else {
            throw DataSetError("the classifier in \(directory) knows the classes \(quoted(names)), the model's data has "
                               + "\(quoted(modelNames)): class accuracy needs a classifier trained on the model's classes "
                               + "(`launcher train-classifier --data` on the data the model was trained on)")
        }
    }

    static func quoted(_ names: [String]) -> String {
        names.prefix(10).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 10 ? ", ... (\(names.count))" : "")
    }

    /// Runs every scale in `scales`. Rank 0 writes each scale's grid (`grid_w<scale>.png`,
    /// up to 10 images per class, one row per class, labelled by `names`), logs one line per
    /// scale and gets the rows; the other ranks get []. Collective.
    public static func run(scales: [Double], model: UNet2DModel, spec: SamplerSpec, schedule: NoiseSchedule,
                           count n: Int, seed: UInt64, fid: FIDEvaluation.Settings, names: [String] = FashionMNIST.classNames,
                           directory: String, group: Collectives, log: (String) -> Void) throws -> [Row] {
        guard let classes = model.config.guidanceClasses else { throw SamplingError.classNotSupported }
        let classifier = try ClassifierFolder.load(from: fid.classifierDirectory)
        let planned = try Sampling.plannedModelEvaluations(spec: spec, schedule: schedule)
        var rows: [Row] = []
        for (i, scale) in scales.enumerated() {
            let guidance = try ClassGuidance(choice: .all, count: n, scale: scale, classes: classes)
            let (result, seconds) = try ShardedSampling.timedGenerate(
                label: "[\(i + 1)] w = \(format(scale))", model: model, spec: spec, schedule: schedule, count: n, seed: seed,
                group: group, guidance: guidance)
            let accuracy = try ClassAccuracy.measure(localImages: result.local, localLabels: Array(guidance.labels[result.localRange]),
                                                     classes: classes, classifier: classifier, batchSize: fid.batchSize, group: group)
            let report = try FIDEvaluation.evaluate(localImages: result.local, localRange: result.localRange, settings: fid, group: group)
            guard let images = result.images, let report else { continue }
            if i == 0, let reference = report.lines.first { log(reference) }
            try writeGrid(images: images, classes: classes, perClass: min(10, n / classes), names: names,
                          to: directory + "/grid_w\(format(scale)).png")
            let row = Row(scale: scale, accuracy: accuracy.overall, perClassAccuracy: accuracy.perClass, fid: report.fid,
                          kidMean: report.kid?.mean, kidStd: report.kid?.std, images: n, modelEvaluations: planned,
                          passes: guidance.passes, seconds: seconds, classNames: names)
            rows.append(row)
            log(String(format: "[%d] w = %@: accuracy %.1f%%, FID %.2f, KID %.4f, %.1f s", i + 1, format(scale),
                       100 * row.accuracy, row.fid, row.kidMean ?? .nan, seconds))
        }
        return rows
    }

    /// The first `perClass` images of each class's run, one labelled row per class.
    static func writeGrid(images: Tensor, classes: Int, perClass: Int, names: [String], to path: String) throws {
        let per = images.shape[0] / classes
        let picked = (0..<classes).flatMap { k in (0..<perClass).map { k * per + $0 } }
        try SampleFiles.writeClassGrid(images: images.gather(picked), classes: classes, names: names, to: path)
    }

    /// The rows' class names: recorded in them, else Fashion-MNIST's.
    static func classNames(of rows: [Row]) -> [String] { rows.first?.classNames ?? FashionMNIST.classNames }

    static func format(_ w: Double) -> String { OptionCheck.format(w) }

    /// One line per scale: scale, accuracy, FID, KID, then the accuracy of each class.
    public static func csv(_ rows: [Row]) -> String {
        let names = classNames(of: rows)
        let k = rows.first?.perClassAccuracy.count ?? 0
        let classColumns = (0..<k).map { "accuracy_" + (($0 < names.count ? names[$0] : "class \($0)")
            .replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "/", with: "_")) }
        var s = (["guidance_scale", "accuracy", "fid", "kid_mean", "kid_std", "images", "model_evaluations", "passes", "seconds"]
                 + classColumns).joined(separator: ",") + "\n"
        for r in rows {
            let fields = [format(r.scale), String(format: "%.4f", r.accuracy), String(format: "%.4f", r.fid),
                          r.kidMean.map { String(format: "%.6f", $0) } ?? "", r.kidStd.map { String(format: "%.6f", $0) } ?? "",
                          String(r.images), String(r.modelEvaluations), String(r.passes), String(format: "%.1f", r.seconds)]
                + r.perClassAccuracy.map { $0.map { String(format: "%.4f", $0) } ?? "" }
            s += fields.joined(separator: ",") + "\n"
        }
        return s
    }

    /// The table: one row per scale, overall accuracy, FID, KID, and each class's accuracy.
    public static func markdown(_ rows: [Row], title: String) -> String {
        let names = classNames(of: rows)
        let k = rows.first?.perClassAccuracy.count ?? 0
        let classHeads = (0..<k).map { $0 < names.count ? names[$0] : "class \($0)" }
        var s = "\(title)\n\n| w | accuracy | FID | KID (x1e3) | " + classHeads.joined(separator: " | ") + " |\n"
        s += "|---:|---:|---:|---:|" + String(repeating: "---:|", count: k) + "\n"
        for r in rows {
            let kid = r.kidMean.map { m in String(format: "%.2f ± %.2f", m * 1e3, (r.kidStd ?? 0) * 1e3) } ?? "-"
            let perClass = r.perClassAccuracy.map { $0.map { String(format: "%.0f%%", 100 * $0) } ?? "-" }
            s += "| \(format(r.scale)) | " + String(format: "%.1f%%", 100 * r.accuracy) + " | " + String(format: "%.2f", r.fid)
                + " | \(kid) | " + perClass.joined(separator: " | ") + " |\n"
        }
        return s
    }

    /// Two panels side by side: accuracy (%, overall and per class) and FID against w.
    public static func plot(_ rows: [Row]) -> Canvas {
        let names = classNames(of: rows)
        let x = rows.map(\.scale)
        var accuracy = LinePlot(title: "Class accuracy against guidance scale", xLabel: "guidance scale w",
                                yLabel: "accuracy (%)")
        accuracy.series = [.init(label: "all classes", x: x, y: rows.map { 100 * $0.accuracy }, markers: true)]
        let classes = rows.first?.perClassAccuracy.count ?? 0
        for k in 0..<classes where rows.allSatisfy({ $0.perClassAccuracy.count == classes && $0.perClassAccuracy[k] != nil }) {
            let name = k < names.count ? names[k] : "class \(k)"
            accuracy.series.append(.init(label: name, x: x, y: rows.map { 100 * ($0.perClassAccuracy[k] ?? 0) }))
        }
        var fid = LinePlot(title: "FID against guidance scale", xLabel: "guidance scale w", yLabel: "FID (lower is better)")
        fid.series = [.init(label: "FID", x: x, y: rows.map(\.fid), markers: true)]
        accuracy.width = 700; fid.width = 600
        let left = accuracy.render(), right = fid.render()
        var canvas = Canvas(width: left.width + right.width, height: max(left.height, right.height))
        for (panel, offset) in [(left, 0), (right, left.width)] {
            for y in 0..<panel.height { for x in 0..<panel.width {
                let i = 3 * (y * panel.width + x)
                canvas.set(offset + x, y, Canvas.Color(panel.pixels[i], panel.pixels[i + 1], panel.pixels[i + 2]))
            } }
        }
        return canvas
    }
}
