import Logging
import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// Recovery (FORMAT.md §10): open reads the directory's view (`StreamDirectoryView`, which
/// changes nothing) and then acts on it, step by step: leftovers go, torn tails are cut and
/// footerless segments sealed, the journal is cut at its first bad record, the index is built
/// from the footers, the checkpoint's tombstones are placed, and the journal is replayed.
extension StreamCore {
    /// Creates the files of a new, empty stream in `directory` (which exists and is empty but
    /// for the name file). Its records start at the journal's end: records of an earlier stream
    /// that had the same key are before it.
    static func create(directory: String, key: StreamKey, journal: StoreJournal, options: StoreOptions,
                       logger: Logger) throws(SpoolError) -> StreamCore {
        do {
            let seg = Segment.create(directory: directory, number: 1)
            let position = journal.endPosition
            let cp = StreamCheckpoint(position: position, lastID: .zero, entriesAdded: 0, maxDeletedID: .zero,
                                      trimmedThrough: nil, droppedBlocks: [], tombstones: [])
            try FileSystem.writeAtomically(directory + "/" + StreamCheckpoint.fileName, cp.encode())
            return StreamCore(directory: directory, key: key, options: options, logger: logger, active: seg, journal: journal,
                              checkpointPosition: position)
        } catch {
            throw error.spool
        }
    }

    /// A stream's records (of one part) in the store journal from a position on, and the oldest
    /// file they are in.
    typealias StoreRecords = (JournalPosition, StoreJournalView.Part) -> (items: [JournalScan.Item], oldestFile: UInt64?)

    /// The records of `key` from the journal's files as they are now (reloading one stream).
    static func storeRecords(_ journal: StoreJournal, key: StreamKey, skipThrough: StreamID?) throws(SpoolError) -> StoreRecords {
        let view: StoreJournalView
        do {
            view = try StoreJournalView.read(dataDirectory: FileSystem.parent(of: journal.directory), keep: { $0 == key },
                                             skip: { _ in skipThrough })
        } catch { throw error.spool }
        return { position, part in view.records(of: key, from: position, part: part) }
    }

    /// Opens an existing stream directory: checkpoint, segment footers (sealed segments are not
    /// scanned), the active segment's unsynced frames, journal replay. Torn tails are cut
    /// and logged. A format-1 stream (its own journal) is upgraded: replayed from its journal,
    /// then checkpointed into the store journal, after which its journal files go.
    static func open(directory: String, key: StreamKey, journal: StoreJournal, view given: StreamDirectoryView? = nil,
                     records: StoreRecords? = nil, options: StoreOptions, logger: Logger) throws(SpoolError) -> StreamCore {
        let view: StreamDirectoryView
        if let given { view = given } else {
            do { view = try StreamDirectoryView.read(directory) } catch let e as IOError { throw e.spool } catch let e as FormatError {
                throw e.spool
            } catch { throw SpoolError.closed("\(error)") }
        }
        removeLeftovers(view, logger: logger)
        let segments = try openSegments(view, logger: logger)
        let items: [JournalScan.Item]
        var oldestFile: UInt64? = nil
        var source: StoreRecords? = records
        if let position = view.checkpoint.journalPosition {
            if source == nil { source = try storeRecords(journal, key: key, skipThrough: view.blocksThrough) }
            (items, oldestFile) = source!(position, .stream)
        } else {
            items = try format1Journal(view, logger: logger)
        }

        var core = StreamCore(directory: directory, key: key, options: options, logger: logger, active: segments.active,
                              journal: journal, checkpointPosition: view.checkpoint.journalPosition ?? journal.endPosition)
        core.oldestNeededFile = oldestFile
        core.activeBlocks = segments.activeBlocks
        core.activeSealed = segments.activeIsSealed
        core.counters = StreamCounters(checkpoint: view.checkpoint)
        core.trimmedThrough = view.checkpoint.trimmedThrough
        let superseding = try core.indexBlocks(segments.loaded, checkpoint: view.checkpoint)
        var pendingOpen = try core.placeTombstones(view.checkpoint.tombstones, superseding: superseding)
        try core.replay(items, pendingOpen: &pendingOpen)
        // A block can outlive the journal records of its entries only after power loss under
        // everysec/no; the ID counter must never fall behind what is on disk.
        if let s = core.sealedThrough, s > core.meta.lastID { core.meta.lastID = s }
        core.deletedFiles = false
        if !view.usesStoreJournal {
            // The upgrade: once the checkpoint naming the store journal is in place, the
            // stream's own journal is a leftover.
            try core.checkpoint()
            for g in view.files.journals {
                let name = JournalFormat.fileName(g)
                logger.info("upgraded stream to the store journal; removing its own journal", metadata: ["file": "\(directory)/\(name)"])
                try? FileSystem.removeFile(directory + "/" + name)
            }
        }
        try core.loadGroups(records: source)
        return core
    }

    /// Deletes the leftovers of an interrupted checkpoint or write: temporary files, and
    /// journals of other generations than the checkpoint's.
    private static func removeLeftovers(_ view: StreamDirectoryView, logger: Logger) {
        for name in view.files.temporaries {
            logger.info("removing leftover temporary file", metadata: ["file": "\(view.directory)/\(name)"])
            try? FileSystem.removeFile(view.directory + "/" + name)
        }
        for g in view.files.journals where view.usesStoreJournal || g != view.checkpoint.journalGeneration {
            let name = JournalFormat.fileName(g)
            logger.info("removing superseded journal", metadata: ["file": "\(view.directory)/\(name)"])
            try? FileSystem.removeFile(view.directory + "/" + name)
        }
    }

    /// The segments opened, with their blocks; the active one last.
    private struct OpenedSegments {
        var loaded: [(Segment, [SegmentFormat.FooterEntry])] = []
        var active: Segment
        var activeBlocks: [SegmentFormat.FooterEntry] = []
        /// The last segment is sealed: the next block starts a new one.
        var activeIsSealed = false
    }

    /// Opens every segment of the view: sealed ones mapped; the last unsealed one cut at the
    /// end of its valid frames (its header rewritten when a create was cut short) and kept
    /// active; an older unsealed one (its footer lost) sealed now. No segment: segment 1.
    private static func openSegments(_ view: StreamDirectoryView, logger: Logger) throws(SpoolError) -> OpenedSegments {
        for s in view.segments {
            if case .damagedHeader(let e) = s.content { throw SpoolError.corrupt(e) }
            if case .unreadable(let e) = s.content { throw e.spool }
        }
        var loaded: [(Segment, [SegmentFormat.FooterEntry])] = []
        var active: (Segment, [SegmentFormat.FooterEntry])? = nil
        do throws(IOError) {
            for s in view.segments {
                var validEnd: Int64
                switch s.content {
                case .damagedHeader, .unreadable:
                    continue  // thrown above
                case .sealed(let blocks):
                    loaded.append((try Segment.openSealed(path: s.path, number: s.number), blocks))
                    continue
                case .tornHeader:
                    // Not even a header: rewrite it.
                    let f = try AppendFile(creating: s.path, truncate: true)
                    try f.append(SegmentFormat.encodeHeader(number: s.number))
                    try f.sync()
                    f.close()
                    validEnd = Int64(SegmentFormat.headerSize)
                case .unsealed(_, let end, let problems):
                    if let cut = problems.first {
                        logger.warning("cut torn tail of segment", metadata: ["file": "\(s.path)", "offset": "\(end)", "reason": "\(cut.reason)"])
                    }
                    validEnd = end
                }
                let seg = try Segment.openActive(path: s.path, number: s.number, validEnd: validEnd)
                if s.isLast {
                    active = (seg, s.blocks)
                    loaded.append((seg, s.blocks))
                } else {
                    logger.warning("sealing segment that had no footer", metadata: ["file": "\(s.path)"])
                    try seg.seal(blocks: s.blocks)
                    loaded.append((seg, s.blocks))
                }
            }
            if let (seg, blocks) = active { return OpenedSegments(loaded: loaded, active: seg, activeBlocks: blocks) }
            if let (last, _) = loaded.last { return OpenedSegments(loaded: loaded, active: last, activeIsSealed: true) }
            // No segment file: a pending one, numbered after any the checkpoint knew.
            let first = Segment.create(directory: view.directory, number: max(view.checkpoint.activeBlocks?.segment ?? 1, 1))
            return OpenedSegments(loaded: [(first, [])], active: first)
        } catch {
            throw error.spool
        }
    }

    /// The records of a format-1 stream's own journal (the one its checkpoint names), up to
    /// its first torn or damaged record. The checkpoint names a journal only after it was
    /// written and synced, so a missing journal or a bad header is damage. Nothing is cut: the
    /// upgrade that follows replaces the file.
    private static func format1Journal(_ view: StreamDirectoryView, logger: Logger) throws(SpoolError) -> [JournalScan.Item] {
        let path = view.journalPath
        if let e = view.journalError { throw e.spool }
        guard let scan = view.journal else {
            throw SpoolError.corrupt(FormatError(file: path, offset: 0, "journal named by the checkpoint is missing"))
        }
        if let e = scan.headerError { throw SpoolError.corrupt(e) }
        if let t = scan.tail {
            let what = scan.tailIsTorn ? "cut torn tail of journal" : "cut journal at damaged record"
            var metadata: Logger.Metadata = ["file": "\(path)", "offset": "\(scan.validEnd)", "bytes": "\(scan.fileSize - scan.validEnd)"]
            if !scan.tailIsTorn { metadata["reason"] = "\(t.reason)" }
            logger.warning("\(what)", metadata: metadata)
        }
        return scan.items
    }

    /// Builds the index from the segments' blocks, bulk-loaded in first-ID order: blocks
    /// trimmed or dropped (by the checkpoint) are left out, a reopened block sealed again takes
    /// its old copy's place, and segments left with nothing live (but the active one) are
    /// deleted. Returns the first IDs of the blocks that superseded a reopened one.
    private mutating func indexBlocks(_ loaded: [(Segment, [SegmentFormat.FooterEntry])],
                                      checkpoint: StreamCheckpoint) throws(SpoolError) -> Set<StreamID> {
        let dropped = Set(checkpoint.droppedBlocks)

        // Index: sorted footers, bulk-loaded.
        var elements: [(StreamID, BlockInfo)] = []
        elements.reserveCapacity(loaded.reduce(0) { $0 + $1.1.count })
        var previousFirst: StreamID? = nil
        // Blocks that supersede a reopened one: their ID range may hold IDs of blocks deleted
        // whole in between (entries Redis kept in another node), which are not theirs.
        var superseding = Set<StreamID>()
        for (seg, blocks) in loaded {
            segments[seg.number] = seg
            for (i, b) in blocks.enumerated() {
                // A reopened block sealed again supersedes its old copy: right after it, or
                // first in a later segment (the blocks between were deleted whole, FORMAT.md
                // §4.5). Anything else overlapping can only come from a damaged directory.
                let order = BlockOrder.of(first: b.firstID, last: b.lastID, after: sealedThrough, previousFirst: i == 0 ? nil : previousFirst)
                guard order != .outOfOrder else {
                    throw SpoolError.corrupt(FormatError(file: seg.path, offset: b.offset, "block \(b.firstID)..\(b.lastID) overlaps an earlier block"))
                }
                let supersedes = order == .supersedes
                previousFirst = b.firstID
                sealedThrough = b.lastID
                if let t = checkpoint.trimmedThrough, b.lastID <= t { continue }
                if dropped.contains(b.firstID) {
                    droppedBlocks[b.firstID] = seg.number
                    continue
                }
                let element = (b.firstID, BlockInfo(segment: seg.number, offset: b.offset, frameLength: b.frameLength,
                                                    count: b.count, deleted: 0, lastID: b.lastID))
                if supersedes {
                    superseding.insert(b.firstID)
                    // In place of the old copy, or where it was (trimmed, or its file gone):
                    // the elements stay sorted by first ID.
                    // (Searched from the end: only blocks deleted whole lie between them.)
                    let at = elements.lastIndex { $0.0 < b.firstID }.map { $0 + 1 } ?? 0
                    if at < elements.count && elements[at].0 == b.firstID { elements[at] = element } else { elements.insert(element, at: at) }
                } else {
                    elements.append(element)
                }
            }
            segmentLiveBlocks[seg.number] = 0
        }
        for (_, info) in elements { segmentLiveBlocks[info.segment, default: 0] += 1 }
        // Segments with nothing live (all trimmed, dropped or superseded) but the last one go.
        for (number, live) in segmentLiveBlocks where live == 0 && number != active.number {
            do { try deleteSegment(number) } catch { throw error.spool }
        }
        index = RadixTree(sortedUniqueElements: elements)
        length = elements.reduce(0) { $0 + Int($1.1.count) }
        return superseding
    }

    /// Places the checkpoint's tombstones: those of entries in sealed blocks now; the rest, of
    /// entries the journal's CARRY and ENTRY records put back, are returned for the replay.
    private mutating func placeTombstones(_ tombstones: [StreamID], superseding: Set<StreamID>) throws(SpoolError) -> Set<StreamID> {
        // Checkpoint tombstones: those in sealed blocks now; the rest belong to carried entries.
        var pendingOpen = Set<StreamID>()
        var supersedingIDs: [StreamID: Set<StreamID>] = [:]
        for id in tombstones {
            if let (first, info) = index.floor(id), id <= info.lastID {
                if superseding.contains(first) {
                    // Within its range but maybe not its own (read once; such blocks are rare).
                    if supersedingIDs[first] == nil { supersedingIDs[first] = Set(try readBlock(info, first: first).map(\.id)) }
                    guard supersedingIDs[first]!.contains(id) else {
                        pendingOpen.insert(id)
                        continue
                    }
                }
                if blockTombstones[first, default: []].insert(id).inserted {
                    index.updateValue(forKey: first) { $0.deleted += 1 }
                    length -= 1
                }
            } else {
                pendingOpen.insert(id)
            }
        }
        return pendingOpen
    }

    /// Replays the journal's records in order, then writes the checkpoint a grown reopened
    /// block sealed during the replay needs (`sealOpenBlock`).
    private mutating func replay(_ records: [JournalScan.Item], pendingOpen: inout Set<StreamID>) throws(SpoolError) {
        // The checkpoint's tail block (its CARRY records, first in the journal) was a reopened
        // sealed block when a block on disk starts with its first entry and ends before its
        // last (a block that holds them all was sealed after the checkpoint). That block stays,
        // even with every entry deleted: it is reopened again (`placeCarried`).
        var carried: (first: StreamID, last: StreamID)? = nil
        for item in records {
            guard case .carry(let e) = item.record else { break }
            carried = (carried?.first ?? e.id, e.id)
        }
        let reopenedAtCheckpoint = carried.flatMap { c in index[c.first].flatMap { $0.lastID < c.last ? c.first : nil } }
        // A block every entry of which is deleted stays: XDEL lists the blocks it empties as
        // dropped, so such a block was emptied by a trim, which keeps it (`deleteOne`).
        replaying = true
        for item in records {
            try replay(item.record, pendingOpen: &pendingOpen, reopenedAtCheckpoint: reopenedAtCheckpoint)
        }
        replaying = false
        // The checkpoint that sealing a grown reopened block needs first (`sealOpenBlock`).
        if sealedRegrownWhileReplaying {
            sealedRegrownWhileReplaying = false
            try checkpoint()
        }
    }

    /// Applies one journal record during recovery.
    mutating func replay(_ r: JournalFormat.Record, pendingOpen: inout Set<StreamID>,
                         reopenedAtCheckpoint: StreamID? = nil) throws(SpoolError) {
        counters.apply(r)
        switch r {
        case .entry(let e):
            journalTop = max(journalTop ?? e.id, e.id)
            try placeRecovered(e, pendingOpen: &pendingOpen)
        case .carry(let e):
            journalTop = max(journalTop ?? e.id, e.id)
            try placeCarried(e, pendingOpen: &pendingOpen, reopenedAtCheckpoint: reopenedAtCheckpoint)
        case .delete(let ids):
            for id in ids { _ = try deleteOne(id) }
        case .trim(let through):
            try removeThrough(through)
        case .setMeta, .group:
            break
        }
    }

    /// A CARRY record puts back an entry of the tail block as it was at the checkpoint. The block
    /// is rebuilt as it was, not decided again: blocks before it may have been deleted whole
    /// since it began, after which Redis's choice would differ. When it was a reopened sealed
    /// block (`reopenedAtCheckpoint`, the first record's ID), that block is reopened again.
    private mutating func placeCarried(_ e: StreamEntry, pendingOpen: inout Set<StreamID>,
                                       reopenedAtCheckpoint: StreamID?) throws(SpoolError) {
        if e.id == reopenedAtCheckpoint, open.entries.isEmpty, reopened == nil, let info = index[e.id] {
            reopen(e.id, info, try reopenCandidate(e.id, info))
            return
        }
        try placeRecovered(e, pendingOpen: &pendingOpen, carried: true)
    }

    /// Puts a replayed entry into the tail block unless it is already stored; a carried one
    /// joins it as it is, an appended one where the node rules say (`placeInOpenBlock`).
    private mutating func placeRecovered(_ e: StreamEntry, pendingOpen: inout Set<StreamID>,
                                         carried: Bool = false) throws(SpoolError) {
        if let s = sealedThrough, e.id <= s { return }  // in a sealed block, or the reopened one
        if let last = open.entries.last, e.id <= last.id { return }
        if carried {
            open.add(e)
            length += 1
        } else {
            try placeInOpenBlock(e)
        }
        if pendingOpen.remove(e.id) != nil {
            open.deleted.insert(e.id)
            length -= 1
        }
    }
}
