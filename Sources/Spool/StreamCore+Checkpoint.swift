import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// Checkpoints (FORMAT.md §6) and XSETID.
extension StreamCore {
    /// Syncs the journal and active segment, writes a checkpoint and starts a new journal
    /// generation that carries the tail block's entries.
    mutating func checkpoint() throws(SpoolError) {
        try flushPending()
        do {
            try active.sync()
            let gen = journalGeneration + 1
            let path = directory + "/" + JournalFormat.fileName(gen)
            var w = ByteWriter(capacity: 4096)
            w.writeBytes(JournalFormat.encodeHeader(generation: gen))
            for e in open.entries { JournalFormat.encode(.carry(e), into: &w) }
            let newJournal = try AppendFile.createJournal(at: path, initial: w.bytes, reservation: options.journalReservation)
            var tombs: [StreamID] = []
            for (_, set) in blockTombstones { tombs.append(contentsOf: set) }
            tombs.append(contentsOf: open.deleted)
            tombs.sort()
            let cp = StreamCheckpoint(journalGeneration: gen, lastID: meta.lastID, entriesAdded: meta.entriesAdded,
                                      maxDeletedID: meta.maxDeletedID, trimmedThrough: trimmedThrough,
                                      droppedBlocks: droppedBlocks.keys.sorted(), tombstones: tombs,
                                      activeBlocks: activeSealed ? nil : .init(segment: active.number, blocks: activeBlocks),
                                      lastIDHighWater: lastIDHighWater)
            try FileSystem.writeAtomically(directory + "/" + StreamCheckpoint.fileName, cp.encode())
            let oldPath = journal.path
            journal.close()
            journal = newJournal
            journalGeneration = gen
            journalTop = open.entries.last?.id
            try FileSystem.removeFile(oldPath)
        } catch { throw error.spool }
    }

    /// XSETID's counters change. A last ID moved below an ID the stream has held (on disk, in
    /// the tail block, in the journal generation, or trimmed away: `trimmedThrough` says
    /// "everything up to here is gone") starts the storage over, so that those IDs can be
    /// appended again: recovery tells entries apart by ID. A stream that still holds entries
    /// cannot start over; there only ACKED trimming can have removed entries above the new last
    /// ID without raising max-deleted-entry-ID, and that XSETID is refused.
    mutating func setMeta(_ m: StreamMeta) throws(SpoolError) -> Int64 {
        let reusesIDs = [physicalTop, trimmedThrough, journalTop].compactMap({ $0 }).max().map { m.lastID < $0 } ?? false
        if reusesIDs && length > 0 {
            throw SpoolError.command("ERR The ID specified in XSETID is smaller than an entry ACKED trimming removed from the stream's tail; Spool cannot reuse such IDs while the stream holds entries")
        }
        if reusesIDs {
            counters.setMeta(m)
            return try resetStorage()
        }
        let end = try log(.setMeta(lastID: m.lastID, entriesAdded: m.entriesAdded, maxDeletedID: m.maxDeletedID))
        counters.setMeta(m)
        return end
    }

    /// The highest ID physically on disk or in the tail block, live or not.
    var physicalTop: StreamID? {
        let o = open.entries.last?.id
        guard let s = sealedThrough else { return o }
        return o.map { max($0, s) } ?? s
    }

    /// XSETID may move an empty stream's last ID below IDs that are still on disk (trimmed,
    /// not deleted), after which those IDs can be appended again. Recovery relies on IDs on disk
    /// increasing, so the stream's storage starts over: every segment goes, a new segment
    /// follows the old numbers, and a checkpoint with the new counters and a fresh journal is
    /// written. A crash before the checkpoint recovers the old (equally empty) stream from the
    /// old journal: the XSETID was not acknowledged. The counters are already the new ones.
    mutating func resetStorage() throws(SpoolError) -> Int64 {
        try flushPending()
        let next = active.number + 1
        do {
            for number in segments.keys.sorted() { try FileSystem.removeFile(segments[number]!.path) }
            let seg = try Segment.create(directory: directory, number: next)
            segments = [next: seg]
            segmentLiveBlocks = [next: 0]
            active = seg
        } catch { throw error.spool }
        activeSealed = false
        activeBlocks = []
        index = RadixTree()
        blockTombstones = [:]
        droppedBlocks = [:]
        reopened = nil
        open = OpenBlock()
        sealedThrough = nil
        trimmedThrough = nil
        try checkpoint()
        return journal.size
    }
}
