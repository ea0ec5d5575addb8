/// `--class NAME|INDEX|all`: which class each sampled image is drawn from.
///
/// A name is one of Fashion-MNIST's (`FashionMNIST.classNames`), matched ignoring case, spaces
/// and punctuation ("Ankle boot", "ankle-boot", "T-shirt/top", "tshirt"); an index is 0..<K.
/// `all` gives the n images in K equal runs, image i of class i / (n / K): with n = 100 and a
/// grid of 10 columns, one row per class.
public enum ClassChoice: Equatable, Sendable, CustomStringConvertible {
    case one(Int)
    case all

    public static func parse(_ text: String, names: [String] = FashionMNIST.classNames) throws -> ClassChoice {
        if text.lowercased() == "all" { return .all }
        if let index = Int(text) {
            guard (0..<names.count).contains(index) else { throw SamplingError.unknownClass(text, classes: names.count) }
            return .one(index)
        }
        let key = normalized(text)
        if let index = names.firstIndex(where: { normalized($0) == key || normalized(firstWord($0)) == key }) {
            return .one(index)
        }
        throw names == FashionMNIST.classNames ? SamplingError.unknownClass(text, classes: names.count)
            : SamplingError.unknownNamedClass(text, names: names)
    }

    /// The class of each of `n` images for a model with `classes` classes.
    public func labels(count n: Int, classes: Int) throws -> [Int] {
        switch self {
        case .one(let k):
            guard (0..<classes).contains(k) else { throw SamplingError.unknownClass("\(k)", classes: classes) }
            return [Int](repeating: k, count: n)
        case .all:
            guard n >= classes, n % classes == 0 else { throw SamplingError.classAllCount(images: n, classes: classes) }
            return (0..<n).map { $0 / (n / classes) }
        }
    }

    public var description: String {
        switch self {
        case .one(let k): return k < FashionMNIST.classNames.count ? FashionMNIST.classNames[k] : "class \(k)"
        case .all: return "all"
        }
    }

    static func normalized(_ s: String) -> String { String(s.lowercased().filter { $0.isLetter || $0.isNumber }) }
    static func firstWord(_ s: String) -> String { String(s.prefix { $0 != "/" }) }
}
