/// One event of a TensorBoard event file as `EventFile.read` gives it: the file version
/// (first event of a file) or the values of a summary.
public struct TensorBoardEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int
    /// "brain.Event:2" in a file's first event; nil in the others.
    public var fileVersion: String?
    /// A SessionLog START: the reader drops earlier events of steps >= `step`.
    public var startsSession: Bool
    public var values: [Value]

    public struct Value: Equatable, Sendable {
        public var tag: String
        /// The summary metadata's plugin name ("scalars", "images"), when the writer set one.
        public var pluginName: String?
        public var content: Content
    }

    public enum Content: Equatable, Sendable {
        case scalar(Float)
        case image(Image)
        /// A kind of value this reader does not decode (a histogram, a tensor, audio).
        case other
    }

    public struct Image: Equatable, Sendable {
        public var width: Int, height: Int
        /// TensorBoard's colorspace: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
        public var channels: Int
        /// The encoded image (a PNG when this package wrote it).
        public var encoded: [UInt8]
    }

    /// The scalar under `tag` in this event, if any.
    public func scalar(_ tag: String) -> Float? {
        for v in values where v.tag == tag { if case .scalar(let x) = v.content { return x } }
        return nil
    }

    /// The image under `tag` in this event, if any.
    public func image(_ tag: String) -> Image? {
        for v in values where v.tag == tag { if case .image(let x) = v.content { return x } }
        return nil
    }
}

extension TensorBoardEvent {
    init(_ event: TBEvent) {
        wallTime = event.wallTime
        step = Int(event.step)
        fileVersion = event.fileVersion.isEmpty ? nil : event.fileVersion
        startsSession = event.sessionLog.status == .start
        values = event.summary.value.map { v in
            let content: Content
            switch v.value {
            case .simpleValue(let x): content = .scalar(x)
            case .image(let i):
                content = .image(Image(width: Int(i.width), height: Int(i.height), channels: Int(i.colorspace),
                                       encoded: [UInt8](i.encodedImageString)))
            case nil: content = .other
            }
            let plugin = v.metadata.pluginData.pluginName
            return Value(tag: v.tag, pluginName: plugin.isEmpty ? nil : plugin, content: content)
        }
    }
}
