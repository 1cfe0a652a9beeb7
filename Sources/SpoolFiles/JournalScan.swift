public import SpoolFormat
public import SpoolIO

/// The records of one stream journal file as far as they can be read.
public typealias JournalScan = LogScan<JournalFormat.Record>

extension LogScan where Record == JournalFormat.Record {
    /// Reads and scans the stream journal at `path`.
    public static func load(path: String, relativePath: String, generation: UInt64) throws(IOError) -> (JournalScan, [UInt8]) {
        let bytes = try FileSystem.readFile(path)
        let scan = bytes.withUnsafeBytes { Self.scan($0, path: path, relativePath: relativePath, generation: generation) }
        return (scan, bytes)
    }
}

/// A stream's counters and logical deletions after its checkpoint and journal are applied:
/// the counters by `StreamCounters.apply` (the engine's own fold), the rest as `StreamCore.open`
/// applies the records. What the tools (dump, fsck, replay) read a stream as.
public struct StreamLogicalState: Sendable {
    /// The counters (Redis's and the last ID's high-water mark).
    public var counters: StreamCounters
    /// Last-generated ID.
    public var lastID: StreamID { counters.meta.lastID }
    /// Entries-added counter.
    public var entriesAdded: UInt64 { counters.meta.entriesAdded }
    /// Largest XDEL'ed ID.
    public var maxDeletedID: StreamID { counters.meta.maxDeletedID }
    /// The highest last-generated ID before an XSETID moved it back (FORMAT.md §6).
    public var lastIDHighWater: StreamID { counters.lastIDHighWater }
    /// The highest ID a group may reference (FORMAT.md §8.3).
    public var referenceTop: StreamID { counters.referenceTop }
    /// Everything ≤ this is trimmed away.
    public var trimmedThrough: StreamID?
    /// First IDs of blocks XDEL emptied (dropped whole while their segment lives).
    public var droppedBlocks: Set<StreamID>
    /// Deleted IDs (checkpoint tombstones and journal deletions).
    public var deleted: Set<StreamID>
    /// Checkpoint tombstones only (to find ones that point at nothing).
    public var checkpointTombstones: [StreamID]
    /// Entries of ENTRY and CARRY records, ascending and deduplicated: the unsealed tail and
    /// entries sealed since the checkpoint.
    public var journalEntries: [StreamEntry]
    /// Number of ENTRY records (each counted into entries-added on replay).
    public var entryRecords: Int
    /// IDs of the ENTRY records, for the count of those already sealed.
    public var entryRecordIDs: [StreamID]
    /// Whether a SETMETA record overrides the checkpoint's counters.
    public var hasSetMeta: Bool

    /// Applies `items` to `checkpoint` (nil: an empty one).
    public init(checkpoint: StreamCheckpoint?, items: [JournalScan.Item]) {
        counters = checkpoint.map(StreamCounters.init(checkpoint:)) ?? StreamCounters()
        trimmedThrough = checkpoint?.trimmedThrough
        droppedBlocks = Set(checkpoint?.droppedBlocks ?? [])
        checkpointTombstones = checkpoint?.tombstones ?? []
        deleted = Set(checkpointTombstones)
        journalEntries = []
        entryRecords = 0
        entryRecordIDs = []
        hasSetMeta = false
        for item in items {
            counters.apply(item.record)
            switch item.record {
            case .entry(let e):
                entryRecords += 1
                entryRecordIDs.append(e.id)
                if journalEntries.last.map({ e.id > $0.id }) ?? true { journalEntries.append(e) }
            case .carry(let e):
                if journalEntries.last.map({ e.id > $0.id }) ?? true { journalEntries.append(e) }
            case .delete(let ids):
                deleted.formUnion(ids)
            case .trim(let through):
                if trimmedThrough.map({ through > $0 }) ?? true { trimmedThrough = through }
            case .setMeta:
                hasSetMeta = true
            case .group:
                break
            }
        }
    }

    /// Whether an entry with `id` in a block that is not dropped is live.
    @inlinable
    public func isLive(_ id: StreamID) -> Bool {
        if let t = trimmedThrough, id <= t { return false }
        return deleted.isEmpty || !deleted.contains(id)
    }
}
