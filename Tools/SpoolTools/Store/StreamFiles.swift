public import SpoolFormat
import SpoolFiles
import SpoolIO

/// Read access to one stream's entries straight from its files (checkpoint, journal,
/// segments), without the engine and without the directory lock: what `dump` and `replay` read.
///
/// Sealed segments are located through their footers (no block is read until asked for);
/// segments without a valid footer are scanned. A damaged block is skipped with a warning
/// rather than stopping the read — `spool fsck` says what is wrong with it.
public struct StreamFiles {
    /// Where a block is.
    struct BlockRef {
        var segment: Int
        var offset: Int
        var frameLength: Int
        var firstID: StreamID
        var lastID: StreamID
        var count: UInt32
    }

    /// The stream directory.
    public let stream: StoreLayout.StreamDirectory
    /// Counters and deletions after the journal is applied.
    public let state: StreamLogicalState
    let segments: [(path: String, relativePath: String, bytes: SegmentBytes)]
    let blocks: [BlockRef]
    /// Entries not in any sealed block yet (from the journal), ascending.
    let tail: [StreamEntry]
    /// Problems met while reading (damaged blocks skipped, torn tails).
    public private(set) var warnings: [String] = []

    /// Opens the files of `stream`. Throws when the checkpoint is unreadable (run fsck).
    public static func open(_ stream: StoreLayout.StreamDirectory) throws(ToolError) -> StreamFiles {
        let rel = stream.relativePath
        let files: StreamDirectoryListing
        do { files = StreamDirectoryListing(names: try FileSystem.list(stream.path)) } catch { throw ToolError("cannot list \(stream.path): \(error)") }
        let checkpoint: StreamCheckpoint
        do {
            let bytes = try FileSystem.readFile(stream.path + "/" + StreamCheckpoint.fileName)
            checkpoint = try bytes.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: rel + "/state") }
        } catch {
            throw ToolError("cannot read the checkpoint of \(rel): \(error) (spool fsck --repair rebuilds it)")
        }
        var warnings: [String] = []
        var items: [JournalScan.Item] = []
        let journalName = JournalFormat.fileName(checkpoint.journalGeneration)
        if files.journals.contains(checkpoint.journalGeneration) {
            do {
                let (scan, _) = try JournalScan.load(path: stream.path + "/" + journalName, relativePath: rel + "/" + journalName,
                                                     generation: checkpoint.journalGeneration)
                if let h = scan.headerError { warnings.append("\(h) (records after it are still read)") }
                if let t = scan.tail { warnings.append("\(t) (the journal is read up to offset \(scan.validEnd))") }
                items = scan.items
            } catch {
                warnings.append("cannot read \(rel)/\(journalName): \(error)")
            }
        }
        let state = StreamLogicalState(checkpoint: checkpoint, items: items)

        var segments: [(path: String, relativePath: String, bytes: SegmentBytes)] = []
        var blocks: [BlockRef] = []
        let numbers = files.segments
        for (i, number) in numbers.enumerated() {
            let name = SegmentFormat.fileName(number)
            let path = stream.path + "/" + name
            let srel = rel + "/" + name
            let bytes: SegmentBytes
            do { bytes = try SegmentScan.load(path, mayBeActive: i == numbers.count - 1) } catch {
                warnings.append("cannot read \(srel): \(error)")
                continue
            }
            let index = segments.count
            segments.append((path, srel, bytes))
            bytes.withBytes { b in
                if let footer = try? SegmentFormat.decodeFooter(b, file: srel) {
                    for e in footer.entries {
                        blocks.append(BlockRef(segment: index, offset: Int(e.offset), frameLength: Int(e.frameLength),
                                               firstID: e.firstID, lastID: e.lastID, count: e.count))
                    }
                    return
                }
                let scan = SegmentScan.scan(b, path: path, relativePath: srel, number: number)
                for g in scan.gaps { warnings.append("\(g.error) (\(g.range.count) bytes skipped)") }
                for f in scan.frames {
                    blocks.append(BlockRef(segment: index, offset: f.offset, frameLength: f.header.frameLength,
                                           firstID: f.header.firstID, lastID: f.header.lastID, count: f.header.count))
                }
            }
        }
        // Blocks out of order would make the read go backwards: keep the engine's rule, a block
        // must start after the previous one ends.
        var ordered: [BlockRef] = []
        for b in blocks {
            if let p = ordered.last, b.firstID <= p.lastID {
                warnings.append("\(segments[b.segment].relativePath): block at \(b.offset) (\(b.firstID)..\(b.lastID)) overlaps the previous block; skipped")
                continue
            }
            ordered.append(b)
        }
        let sealedThrough = ordered.last?.lastID
        var tail: [StreamEntry] = []
        for e in state.journalEntries where sealedThrough.map({ e.id > $0 }) ?? true {
            if let t = state.trimmedThrough, e.id <= t { continue }
            tail.append(e)
        }
        return StreamFiles(stream: stream, state: state, segments: segments, blocks: ordered, tail: tail, warnings: warnings)
    }

    /// Calls `body` with each live entry with `from ≤ id ≤ to`, ascending, until it returns false.
    /// With `includeDeleted`, deleted (but not trimmed) entries are visited too.
    public mutating func visit(from: StreamID = .zero, to: StreamID = .max, includeDeleted: Bool = false,
                               _ body: (StreamEntry) -> Bool) {
        guard from <= to else { return }
        // First block that can hold `from`: binary search on last IDs.
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if blocks[mid].lastID < from { lo = mid + 1 } else { hi = mid }
        }
        let state = self.state
        var stop = false
        var i = lo
        while i < blocks.count, !stop {
            let ref = blocks[i]
            i += 1
            if ref.firstID > to { return }
            if !includeDeleted && state.droppedBlocks.contains(ref.firstID) { continue }
            if let t = state.trimmedThrough, ref.lastID <= t { continue }
            let seg = segments[ref.segment]
            let result: Result<Void, FormatError> = seg.bytes.withBytes { b in
                guard ref.offset + ref.frameLength <= b.count else {
                    return .failure(FormatError(file: seg.relativePath, offset: UInt64(ref.offset), "block frame extends past the end of the file"))
                }
                do throws(FormatError) {
                    let frame: SegmentScan.Frame
                    switch BlockFrame.probe(b, at: ref.offset, end: ref.offset + ref.frameLength, file: seg.relativePath) {
                    case .frame(let header, damage: nil): frame = SegmentScan.Frame(offset: ref.offset, header: header, damage: nil)
                    case .frame(_, damage: let e?), .tornHeader(let e), .badHeader(let e), .tornPayload(_, let e): throw e
                    }
                    let header = frame.header
                    // Decode the whole block before handing out entries, so a damaged block
                    // yields nothing rather than a prefix.
                    var entries: [StreamEntry] = []
                    entries.reserveCapacity(Int(header.count))
                    try SegmentScan.visitEntries(b, frame, file: seg.relativePath) { entries.append($0) }
                    for e in entries where e.id >= from {
                        if e.id > to { stop = true; break }
                        if let t = state.trimmedThrough, e.id <= t { continue }
                        if !includeDeleted, !state.deleted.isEmpty, state.deleted.contains(e.id) { continue }
                        if !body(e) { stop = true; break }
                    }
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            if case .failure(let e) = result {
                warnings.append("\(e); block of \(ref.count) entries \(ref.firstID)..\(ref.lastID) skipped (see spool fsck)")
            }
        }
        if stop { return }
        for e in tail where e.id >= from {
            if e.id > to { return }
            if !includeDeleted, state.deleted.contains(e.id) { continue }
            if !body(e) { return }
        }
    }

    /// Number of blocks found.
    public var blockCount: Int { blocks.count }
}
