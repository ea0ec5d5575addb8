import Foundation

/// The files of an image folder, as torchvision's ImageFolder sees them: when the folder has
/// subfolders, each one is a class (named by the subfolder, numbered in sorted order) and its
/// images, at any depth below it, carry that label; without subfolders the images are
/// unlabelled. Files are taken in sorted path order, so every rank and every run lists them
/// alike. Names starting with "." are ignored; other files whose extension is not .png, .jpg
/// or .jpeg are counted as non-image files.
public struct ImageFolderListing: Sendable, Equatable {
    public let root: String
    /// Candidate images (by extension), full paths, in order.
    public let files: [String]
    /// Each file's class when the folder has class subfolders.
    public let labels: [Int]?
    public let classNames: [String]?
    /// Files that are not images by their extension (skipped, or refused with --strict).
    public let nonImageFiles: [String]

    public static func scan(_ root: String) throws -> ImageFolderListing {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(path: root, "not a folder: expected a folder of PNG/JPEG images, a .npy array or an IDX file")
        }
        let entries = try visibleEntries(root)
        let subfolders = entries.filter { isFolder(root + "/" + $0) }
        let looseFiles = entries.filter { !isFolder(root + "/" + $0) }
        var nonImage: [String] = []
        var files: [String] = []
        func sort(_ paths: [String]) {
            for p in paths {
                if ImageFormat.extensions[(p as NSString).pathExtension.lowercased()] != nil { files.append(p) } else { nonImage.append(p) }
            }
        }
        if subfolders.isEmpty {
            sort(looseFiles.map { root + "/" + $0 })
            if files.isEmpty {
                throw FileError(path: root, "no images: expected PNG or JPEG files (.png, .jpg, .jpeg), or one subfolder "
                                + "of images per class" + (nonImage.isEmpty ? " (the folder is empty)" : "; found \(nonImage.count) other file(s)"))
            }
            return ImageFolderListing(root: root, files: files, labels: nil, classNames: nil, nonImageFiles: nonImage)
        }
        sort(looseFiles.map { root + "/" + $0 })
        if let loose = files.first {
            throw FileError(path: root, "holds both class subfolders (\(subfolders.prefix(3).joined(separator: ", "))...) and "
                            + "images outside them (\(loose)): expected either one subfolder per class or no subfolders")
        }
        var labels: [Int] = []
        for (k, name) in subfolders.enumerated() {
            let before = files.count
            sort(try recursiveFiles(root + "/" + name))
            if files.count == before {
                throw FileError(path: root + "/" + name, "class folder '\(name)' holds no images: expected at least one "
                                + "PNG or JPEG file in every class folder (remove it, or add its images)")
            }
            labels += Array(repeating: k, count: files.count - before)
        }
        return ImageFolderListing(root: root, files: files, labels: labels, classNames: subfolders, nonImageFiles: nonImage)
    }

    static func isFolder(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// Sorted names, hidden ones left out.
    static func visibleEntries(_ folder: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw FileError(path: folder, "cannot list the folder: \(error.localizedDescription)")
        }
    }

    /// Every file below `folder`, in sorted path order (depth first, entries sorted per folder).
    static func recursiveFiles(_ folder: String) throws -> [String] {
        var out: [String] = []
        for name in try visibleEntries(folder) {
            let path = folder + "/" + name
            if isFolder(path) { out += try recursiveFiles(path) } else { out.append(path) }
        }
        return out
    }
}
