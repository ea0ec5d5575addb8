import Foundation

/// Writes TensorBoard scalars and images into a new event file in a log folder (created if
/// missing). Every call appends its event with one write(2), so TensorBoard (and a crash)
/// sees each value as soon as the call returns. A second writer on the same folder, as after
/// `--resume`, starts a file of its own; TensorBoard shows the folder's files as one run.
/// Failed writes throw a `FileError` naming the event file.
public final class TensorBoardWriter {
    public let directory: String
    /// This writer's event file.
    public let path: String
    private let file: FileBytes.AppendingFile
    private let clock: () -> Double

    /// A file begins with its version and, with `startStep`, a session start at that step:
    /// TensorBoard then ignores what earlier files in the folder logged at steps from
    /// `startStep` on (torch's SummaryWriter `purge_step`). `clock` gives the wall time (Unix
    /// seconds) of events written without one.
    public init(directory: String, startStep: Int? = nil,
                clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.directory = directory
        self.clock = clock
        try FileError.createFolder(directory)
        let now = clock()
        var index = 0
        var candidate: String
        repeat {
            candidate = directory + "/" + EventFile.name(seconds: now, host: Self.hostName(), pid: getpid(), index: index)
            index += 1
        } while FileManager.default.fileExists(atPath: candidate)
        path = candidate
        file = try FileBytes.AppendingFile(path: path)
        var first = TBEvent()
        first.wallTime = now
        first.fileVersion = EventFile.version
        try write(first)
        if let startStep {
            var start = TBEvent()
            start.wallTime = now
            start.step = Int64(startStep)
            start.sessionLog.status = .start
            try write(start)
        }
    }

    /// One scalar (shown under "Scalars", `tag`s grouped by what comes before their first "/").
    public func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double? = nil) throws {
        try scalars([(tag, value)], step: step, wallTime: wallTime)
    }

    /// Several scalars of one step, in one event (a metrics row).
    public func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double? = nil) throws {
        try summary(step: step, wallTime: wallTime, values: values.map { tag, value in
            var v = TBSummary.Value()
            v.tag = tag
            v.simpleValue = Float(value)
            return v
        })
    }

    /// An image as the bytes of an encoded file (PNG) of `width` x `height` pixels of
    /// `channels` channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (shown under "Images").
    public func image(_ tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int,
                      wallTime: Double? = nil) throws {
        guard (1...4).contains(channels), width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw FileError(path: path, "image \(tag): \(width)x\(height) with \(channels) channel(s) is not an image TensorBoard shows")
        }
        var image = TBSummary.Image()
        image.width = Int32(width)
        image.height = Int32(height)
        image.colorspace = Int32(channels)
        image.encodedImageString = Data(png)
        var v = TBSummary.Value()
        v.tag = tag
        v.image = image
        try summary(step: step, wallTime: wallTime, values: [v])
    }

    private func summary(step: Int, wallTime: Double?, values: [TBSummary.Value]) throws {
        var event = TBEvent()
        event.wallTime = wallTime ?? clock()
        event.step = Int64(step)
        event.summary.value = values
        try write(event)
    }

    private func write(_ event: TBEvent) throws {
        try file.append(EventFile.record(event, path: path))
    }

    /// This machine's name, as TensorBoard's writers put it in file names.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }
}
