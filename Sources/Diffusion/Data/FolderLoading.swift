import Foundation

extension TrainingDataLoader {
    /// An image folder on every rank. Without a cache folder the ranks decode the files in
    /// blocks and each receives the others' (all hold the same set in memory). With one
    /// (`spec.cacheDirectory`), a rank whose cache file is there and passes its checks maps
    /// it; when every rank has one, nothing is decoded. Otherwise the blocks are decoded and
    /// sent round as before, and the ranks without a usable cache write one as the blocks
    /// arrive: one rank per cache folder (ranks that see the same folder agree through probe
    /// files), the others wait and then map what it wrote. Collective.
    static func loadFolder(_ spec: DataSpec, group: Collectives) throws -> TrainingData {
        let listing = try group.together { try ImageFolderListing.scan(spec.path) }
        try RankAgreement.check([("files in \(spec.path)", "\(listing.files.count) files, classes \(listing.classNames ?? [])")], group: group)
        if spec.strict, let first = listing.nonImageFiles.first {
            throw FileError(path: first, "not an image file (extension not .png, .jpg or .jpeg), refused by --strict; "
                            + "\(listing.nonImageFiles.count) such file(s) in \(spec.path)")
        }
        var notes: [String] = []
        var contents: DecodedCache.Contents?
        var cache: (path: String, key: String)?
        if let directory = spec.cacheDirectory {
            do {
                let key = try DecodedCache.key(for: listing, maxPixels: spec.maxPixels)
                cache = (DecodedCache(directory: directory).path(key: key), key)
            } catch { notes.append("decoded cache not used: \(error)") }
        }
        if let cache, FileManager.default.fileExists(atPath: cache.path) {
            do {
                contents = try DecodedCache.read(cache.path, key: cache.key, fileCount: listing.files.count)
                notes.append("decoded images from the cache \(cache.path)")
            } catch {
                notes.append("the decoded cache is unusable, decoding again and rebuilding it: \(error)")
            }
        }
        let missing = try group.allreduceSum([contents == nil ? 1 : 0])[0]
        if missing > 0 {
            let plan = try cacheWriter(contents == nil ? cache : nil, fileCount: listing.files.count, group: group, notes: &notes)
            let decoded = try decodeInBlocks(listing, spec: spec, keep: contents == nil && plan == nil, writer: plan?.writer, group: group)
            // The writers finish first (a failure reaches every rank), then the ranks that left
            // the writing to another map what it wrote.
            let written = try group.together { try plan?.writer?.finish() }
            let known = contents
            contents = try group.together {
                if let known { return known }
                if let written, let cache {
                    notes.append("decoded images cached in \(cache.path)")
                    return written
                }
                if plan?.waits == true, let cache {
                    notes.append("decoded images cached in \(cache.path) (written by another rank)")
                    return try DecodedCache.read(cache.path, key: cache.key, fileCount: listing.files.count)
                }
                return decoded
            }
        }
        guard let contents else { preconditionFailure("every path above sets the contents") }
        var data = try assemble(contents, listing: listing, spec: spec)
        data.notes = notes + data.notes
        return data
    }

    /// How this rank gets a cache it lacks (nil: it has one, none is wanted, or it cannot be
    /// written, and the images stay in memory): writing it, or waiting for another rank's
    /// (`waits`, with no writer). Ranks without a usable cache each open a writer
    /// and leave a probe file named by the job and their rank in the cache folder; a rank that
    /// sees a lower rank's probe shares its folder and leaves the writing to it. Collective.
    static func cacheWriter(_ cache: (path: String, key: String)?, fileCount: Int, group: Collectives,
                            notes: inout [String]) throws -> (writer: DecodedCache.Writer?, waits: Bool)? {
        let token = UInt64(try group.allreduceSum([group.isRoot ? Double(UInt32.random(in: 0...UInt32.max)) : 0])[0])
        var writer: DecodedCache.Writer?
        var probe: String?
        if let cache {
            do {
                writer = try DecodedCache.Writer(path: cache.path, key: cache.key, fileCount: fileCount)
                let path = (cache.path as NSString).deletingLastPathComponent + "/.probe-\(token)-\(group.rank)"
                try FileBytes.writeAtomically([], to: path)
                probe = path
            } catch {
                writer = nil
                notes.append("decoded cache not written (the images stay in memory): \(error)")
            }
        }
        var probing = [Double](repeating: 0, count: group.size)
        if probe != nil { probing[group.rank] = 1 }
        probing = try group.allreduceSum(probing)
        var waits = false
        if let probe {
            let folder = (probe as NSString).deletingLastPathComponent
            waits = (0..<group.rank).contains { probing[$0] > 0 && FileManager.default.fileExists(atPath: folder + "/.probe-\(token)-\($0)") }
        }
        try group.barrier()  // every rank has looked before any probe goes
        if let probe { unlink(probe) }
        guard let writer else { return nil }
        return waits ? (nil, true) : (writer, false)
    }

    /// Files a rank decodes at a time.
    static let decodeBlock = 64

    /// Decodes the listing over the ranks and gives every rank every image, in listing order:
    /// into `writer` when there is one, into memory with `keep`, else only received. The
    /// files go in blocks of `decodeBlock` dealt round-robin: in each round every rank decodes
    /// its block, then the blocks are sent round in rank order, which is listing order, so a
    /// rank holds at most one round's blocks besides what it keeps.
    static func decodeInBlocks(_ listing: ImageFolderListing, spec: DataSpec, keep: Bool,
                             writer: DecodedCache.Writer?, group: Collectives) throws -> DecodedCache.Contents {
        let n = listing.files.count
        let blocks = (n + decodeBlock - 1) / decodeBlock
        var decoded = DecodedCache.Contents(images: RawImages(), files: [], alphaCount: 0, skipped: [])
        var index = 0
        for round in stride(from: 0, to: blocks, by: group.size) {
            var blob = ShareBlob()
            let mine = round + group.rank
            if mine < blocks {
                for path in listing.files[(mine * decodeBlock)..<min((mine + 1) * decodeBlock, n)] {
                    do {
                        let bytes = try FileBytes.read(path)
                        blob.append(.success(try ImageFormat.decode(bytes, path: path, maxPixels: spec.maxPixels)))
                    } catch let error as ImageFileError {
                        blob.append(.failure(error))
                    } catch {
                        blob.append(.failure(ImageFileError(path: path, "cannot read: \(error)")))
                    }
                }
            }
            for rank in 0..<group.size where round + rank < blocks {
                let bytes = try shareBlob(rank == group.rank ? blob.bytes : [], root: rank, group: group)
                for item in try ShareBlob.items(bytes) {
                    switch item {
                    case .success(let image):
                        writer?.append(image, file: index)
                        if keep {
                            decoded.images.append(image)
                            decoded.files.append(index)
                            if image.hadAlpha { decoded.alphaCount += 1 }
                        }
                    case .failure(let error):
                        writer?.skip(file: index, reason: error.reason)
                        if keep { decoded.skipped.append((index, error.reason)) }
                    }
                    index += 1
                }
            }
        }
        precondition(index == n, "decoded \(index) of \(n) files")
        return decoded
    }

    /// The data set a folder's decoding gives, with the checks on what was skipped.
    static func assemble(_ contents: DecodedCache.Contents, listing: ImageFolderListing, spec: DataSpec) throws -> TrainingData {
        let skipped = contents.skipped.map { ImageFileError(path: listing.files[$0.file], $0.reason) }
        if spec.strict, let first = skipped.first {
            throw FileError(path: first.path, "\(first.reason) (refused by --strict; \(skipped.count) unreadable file(s) in all)")
        }
        if contents.images.count == 0 {
            throw FileError(path: spec.path, "none of its \(listing.files.count) image file(s) could be decoded; the first: \(skipped.first?.description ?? "")")
        }
        let labels = listing.labels.map { all in contents.files.map { all[$0] } }
        if let names = listing.classNames, let labels {
            let present = Set(labels)
            if let empty = names.indices.first(where: { !present.contains($0) }) {
                throw FileError(path: spec.path + "/" + names[empty], "class folder '\(names[empty])' has no image that could be decoded: "
                                + "expected at least one readable image per class")
            }
        }
        var data = TrainingData(images: contents.images, labels: labels, classNames: listing.classNames, source: "folder \(spec.path)")
        data.skipped = skipped
        data.nonImageFiles = listing.nonImageFiles
        if contents.alphaCount > 0 { data.notes.append("\(contents.alphaCount) image(s) had an alpha channel: dropped (not composited)") }
        return data
    }
}
