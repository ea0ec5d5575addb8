/// How often a classifier (the committed Fashion-MNIST one, or one trained on the model's own
/// data) puts a generated image in the class it was asked for: per class and overall, over
/// images spread across the ranks.
public struct ClassAccuracy: Codable, Equatable, Sendable {
    /// Per class asked for: images the classifier assigned to it, and images asked for.
    public let correct: [Int], total: [Int]

    public init(correct: [Int], total: [Int]) {
        precondition(correct.count == total.count, "\(correct.count) correct counts for \(total.count) classes")
        self.correct = correct; self.total = total
    }

    /// correct / total per class (nil for a class with no images).
    public var perClass: [Double?] { zip(correct, total).map { $1 > 0 ? Double($0) / Double($1) : nil } }

    /// Over all images.
    public var overall: Double {
        let n = total.reduce(0, +)
        return n > 0 ? Double(correct.reduce(0, +)) / Double(n) : 0
    }

    /// Counts over the local images ([m, H, W, 1], `localLabels` the classes they were drawn
    /// from, in 0..<classes), summed over the group (every rank gets the result). Collective.
    public static func measure(localImages: Tensor, localLabels: [Int], classes: Int, classifier: FashionClassifier,
                               batchSize: Int = 256, group: Collectives) throws -> ClassAccuracy {
        guard classifier.config.numClasses >= classes else {
            throw MetricsError.dimensionMismatch("the classifier knows \(classifier.config.numClasses) classes, the samples were drawn "
                                                 + "from \(classes)")
        }
        precondition(localImages.shape.first == localLabels.count, "\(localLabels.count) labels for images \(localImages.shape)")
        var counts = [Double](repeating: 0, count: 2 * classes)
        let logits = classifier.evaluate(localImages, batchSize: batchSize).logits
        let k = classifier.config.numClasses
        for (i, label) in localLabels.enumerated() {
            precondition((0..<classes).contains(label), "label \(label) outside 0..<\(classes)")
            let row = (0..<k).map { logits[i * k + $0] }
            let predicted = row.indices.max { row[$0] < row[$1] } ?? 0
            counts[classes + label] += 1
            if predicted == label { counts[label] += 1 }
        }
        counts = try group.allreduceSum(counts)
        return ClassAccuracy(correct: counts[0..<classes].map { Int($0) }, total: counts[classes...].map { Int($0) })
    }
}
