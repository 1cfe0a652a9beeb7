import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// Checkpoints (FORMAT.md §6) and XSETID.
extension StreamCore {
    /// Writes a checkpoint now: the tail block's entries are logged as CARRY records at the
    /// checkpoint's journal position, the journal and the active segment are synced, and the
    /// checkpoint is written atomically. Records of the stream before that position are then
    /// covered, and the journal files holding only such records can go.
    mutating func checkpoint() throws(SpoolError) {
        let prepared = try prepareCheckpoint()
        do {
            try journal.syncCovering(prepared.end)
            try active.sync()
            try FileSystem.writeAtomically(directory + "/" + StreamCheckpoint.fileName, prepared.checkpoint.encode())
        } catch { throw error.spool }
        installed(prepared)
        journalTop = open.entries.last?.id
    }

    /// A checkpoint logged (its CARRY records) but not yet installed.
    struct PreparedCheckpoint {
        var checkpoint: StreamCheckpoint
        /// The journal's logical end after the CARRY records.
        var end: Int64
        /// `checkpointSeq` when it was prepared.
        var seq: UInt64
        /// `logCount` after its CARRY records.
        var logCount: UInt64
    }

    /// The checkpoint of the stream as it is now, its tail block's entries logged (and written)
    /// as the CARRY records its journal position starts with; under another stream's key for
    /// a copy (COPY), which then starts as this stream is.
    mutating func prepareCheckpoint(as other: StreamKey? = nil) throws(SpoolError) -> PreparedCheckpoint {
        try flushPending()
        let key = other ?? self.key
        let carried = open.entries
        let a = try journal.append(write: true) { w in
            for e in carried { JournalFormat.encode(.carry(e), key: key, into: &w) }
        }
        if !carried.isEmpty && other == nil { noteLogged(a) }
        var tombs: [StreamID] = []
        for (_, set) in blockTombstones { tombs.append(contentsOf: set) }
        tombs.append(contentsOf: open.deleted)
        tombs.sort()
        let cp = StreamCheckpoint(position: a.start, lastID: meta.lastID, entriesAdded: meta.entriesAdded,
                                  maxDeletedID: meta.maxDeletedID, trimmedThrough: trimmedThrough,
                                  droppedBlocks: droppedBlocks.keys.sorted(), tombstones: tombs,
                                  activeBlocks: activeSealed ? nil : .init(segment: active.number, blocks: activeBlocks),
                                  lastIDHighWater: lastIDHighWater)
        return PreparedCheckpoint(checkpoint: cp, end: a.end, seq: checkpointSeq, logCount: logCount)
    }

    /// Records that `prepared` is the installed checkpoint: the stream needs the journal from
    /// its position on only if it logged something there (its CARRY records, or records since).
    mutating func installed(_ prepared: PreparedCheckpoint) {
        let position = prepared.checkpoint.journalPosition!
        checkpointPosition = position
        checkpointSeq = journal.nextCheckpointSeq()
        let carried = prepared.logCount != logCount || !open.entries.isEmpty
        oldestNeededFile = carried ? position.file : nil
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
            for number in segments.keys.sorted() { try segments[number]!.removeFile() }
            let seg = Segment.create(directory: directory, number: next)
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
        return journal.end
    }
}
