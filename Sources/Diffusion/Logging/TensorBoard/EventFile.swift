import Foundation
import SwiftProtobuf

/// TensorBoard event files: TFRecord files of serialized `Event` messages, the first holding
/// the file version. TensorBoard reads every file whose name contains "tfevents" in a log
/// folder, in name order, as one run.
public enum EventFile {
    public static let version = "brain.Event:2"

    /// The name TensorBoard's own writers give a file:
    /// events.out.tfevents.<10-digit Unix seconds>.<host>.<pid>.<index>. The zero-padded
    /// seconds keep name order = time order, so a resumed run's new file is read after the old.
    public static func name(seconds: Double, host: String, pid: Int32, index: Int) -> String {
        "events.out.tfevents." + String(format: "%010lld", Int64(seconds)) + ".\(host).\(pid).\(index)"
    }

    /// The event files in `directory` in the order TensorBoard reads them.
    public static func paths(in directory: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw FileError(path: directory, "cannot list the folder: \(error.localizedDescription)")
        }
        return names.filter { $0.contains("tfevents") }.sorted().map { directory + "/" + $0 }
    }

    /// Every event in the file at `path`, checksums checked.
    public static func read(_ path: String) throws -> [TensorBoardEvent] {
        try TFRecord.records(in: FileBytes.read(path), path: path).enumerated().map { i, record in
            do {
                return TensorBoardEvent(try TBEvent(serializedBytes: record))
            } catch {
                throw FileError(path: path, "record \(i) is not a TensorBoard Event: \(error)")
            }
        }
    }

    /// `event` serialized and framed as a record.
    static func record(_ event: TBEvent, path: String) throws -> [UInt8] {
        do {
            return TFRecord.frame(try event.serializedBytes())
        } catch {
            throw FileError(path: path, "cannot encode an event: \(error)")
        }
    }
}
