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

    /// Opens the files of `stream` (`StreamDirectoryView` with the tools' reading: damage is
    /// stepped past and reported as warnings). Throws when the checkpoint is unreadable (run fsck).
    /// A format-2 stream's records come from `journal`, the store journal's view (read with
    /// `StoreJournalView.read` when nil).
    public static func open(_ stream: StoreLayout.StreamDirectory, journal: StoreJournalView? = nil) throws(ToolError) -> StreamFiles {
        let rel = stream.relativePath
        let view: StreamDirectoryView
        do { view = try StreamDirectoryView.read(stream.path, label: rel, reading: .inspection) } catch {
            throw ToolError("cannot read the checkpoint of \(rel): \(error) (spool fsck --repair rebuilds it)")
        }
        var warnings: [String] = []
        let items: [JournalScan.Item]
        if let position = view.checkpoint.journalPosition {
            let key = stream.key
            let store: StoreJournalView
            if let journal { store = journal } else {
                do { store = try StoreJournalView.read(dataDirectory: stream.dataDirectory, keep: { $0 == key }) } catch {
                    throw ToolError("cannot read the store journal of \(stream.dataDirectory): \(error)")
                }
            }
            for f in store.files {
                if let e = f.error { warnings.append("cannot read \(f.relativePath): \(e)") }
                if let t = f.scan?.tail { warnings.append("\(t) (the journal file is read up to offset \(f.scan!.validEnd))") }
            }
            items = store.records(of: key, from: position, part: .stream).items
        } else {
            if let e = view.journalError { warnings.append("cannot read \(rel)/\(JournalFormat.fileName(view.checkpoint.journalGeneration)): \(e)") }
            if let scan = view.journal {
                if let h = scan.headerError { warnings.append("\(h) (records after it are still read)") }
                if let t = scan.tail { warnings.append("\(t) (the journal is read up to offset \(scan.validEnd))") }
            }
            items = view.journal?.items ?? []
        }
        let state = StreamLogicalState(checkpoint: view.checkpoint, items: items)

        var segments: [(path: String, relativePath: String, bytes: SegmentBytes)] = []
        var ordered: [BlockRef] = []
        var through: StreamID? = nil
        for seg in view.segments {
            let srel = rel + "/" + SegmentFormat.fileName(seg.number)
            switch seg.content {
            case .unreadable(let e): warnings.append("cannot read \(srel): \(e)"); continue
            case .damagedHeader(let e), .tornHeader(let e): warnings.append("\(e)")
            case .unsealed(_, _, let problems): warnings += problems.map { "\($0) (skipped)" }
            case .sealed: break
            }
            guard let bytes = seg.bytes else { continue }
            let index = segments.count
            segments.append((seg.path, srel, bytes))
            var previousFirst: StreamID? = nil
            for e in seg.blocks {
                let ref = BlockRef(segment: index, offset: Int(e.offset), frameLength: Int(e.frameLength), firstID: e.firstID, lastID: e.lastID, count: e.count)
                defer { previousFirst = e.firstID }
                switch BlockOrder.of(first: e.firstID, last: e.lastID, after: through, previousFirst: previousFirst) {
                case .follows:
                    ordered.append(ref)
                case .supersedes:
                    // A reopened block sealed again: it replaces its old copy (and the blocks
                    // after that copy, deleted whole), as open indexes it.
                    if let at = ordered.firstIndex(where: { $0.firstID >= e.firstID }) { ordered.removeSubrange(at...) }
                    ordered.append(ref)
                case .outOfOrder:
                    warnings.append("\(srel): block at \(e.offset) (\(e.firstID)..\(e.lastID)) overlaps the previous block; skipped")
                    continue
                }
                through = e.lastID
            }
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
