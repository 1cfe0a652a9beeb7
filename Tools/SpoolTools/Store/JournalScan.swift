public import SpoolFormat
import SpoolIO

/// The records of one journal file as far as they can be read.
public struct JournalScan: Sendable {
    /// One readable record and where it starts.
    public struct Item: Sendable {
        /// Offset of the record in the file.
        public var offset: Int
        /// The record.
        public var record: JournalFormat.Record
    }

    /// Path of the file.
    public var path: String
    /// Path relative to the data directory.
    public var relativePath: String
    /// The generation in the file name.
    public var generation: UInt64
    /// Size of the file.
    public var fileSize: Int
    /// Why the 32-byte header is unusable (damaged, or naming another generation), or nil.
    public var headerError: FormatError?
    /// Records read from offset 32 on (also when the header is damaged: they show what a
    /// header rewrite would save).
    public var items: [Item]
    /// Offset just past the last readable record.
    public var validEnd: Int
    /// Why reading stopped before the end of the file, or nil when it reached the end (or the
    /// zero bytes of reserved space after the last record).
    public var tail: FormatError?
    /// Bytes of the unreadable tail: from `validEnd` through its last non-zero byte (reserved
    /// zero space after it is not counted).
    public var tailBytes = 0

    /// Scans `bytes`, the whole journal file of `generation`.
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, generation: UInt64) -> JournalScan {
        var s = JournalScan(path: path, relativePath: relativePath, generation: generation, fileSize: bytes.count,
                            headerError: nil, items: [], validEnd: min(bytes.count, JournalFormat.headerSize), tail: nil)
        do {
            let g = try JournalFormat.decodeHeader(bytes, file: relativePath)
            if g != generation {
                s.headerError = FormatError(file: relativePath, offset: 16, "header names generation \(g), file name \(generation)")
            }
        } catch {
            s.headerError = error
        }
        guard bytes.count >= JournalFormat.headerSize else { return s }
        var off = JournalFormat.headerSize
        loop: while true {
            switch JournalFormat.read(bytes, at: off, file: relativePath) {
            case .record(let r, let next):
                s.items.append(Item(offset: off, record: r))
                off = next
            case .end:
                if !FileFraming.isZero(bytes, from: off) {
                    s.tail = FormatError(file: relativePath, offset: UInt64(off), "torn record: \(bytes.count - off) bytes of an incomplete write")
                }
                break loop
            case .corrupt(let e):
                s.tail = e
                break loop
            }
        }
        s.validEnd = off
        if s.tail != nil {
            var last = bytes.count
            while last > off && bytes[last - 1] == 0 { last -= 1 }
            s.tailBytes = last - off
        }
        return s
    }

    /// Reads and scans the journal at `path`.
    public static func load(path: String, relativePath: String, generation: UInt64) throws(IOError) -> (JournalScan, [UInt8]) {
        let bytes = try FileSystem.readFile(path)
        let scan = bytes.withUnsafeBytes { Self.scan($0, path: path, relativePath: relativePath, generation: generation) }
        return (scan, bytes)
    }
}

/// A stream's counters and logical deletions after its checkpoint and journal are applied, as
/// `StreamCore.open` applies them.
public struct StreamLogicalState: Sendable {
    /// Last-generated ID.
    public var lastID: StreamID
    /// Entries-added counter.
    public var entriesAdded: UInt64
    /// Largest XDEL'ed ID.
    public var maxDeletedID: StreamID
    /// Everything ≤ this is trimmed away.
    public var trimmedThrough: StreamID?
    /// First IDs of blocks whose entries are all deleted.
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
        lastID = checkpoint?.lastID ?? .zero
        entriesAdded = checkpoint?.entriesAdded ?? 0
        maxDeletedID = checkpoint?.maxDeletedID ?? .zero
        trimmedThrough = checkpoint?.trimmedThrough
        droppedBlocks = Set(checkpoint?.droppedBlocks ?? [])
        checkpointTombstones = checkpoint?.tombstones ?? []
        deleted = Set(checkpointTombstones)
        journalEntries = []
        entryRecords = 0
        entryRecordIDs = []
        hasSetMeta = false
        for item in items {
            switch item.record {
            case .entry(let e):
                entriesAdded &+= 1
                entryRecords += 1
                entryRecordIDs.append(e.id)
                if e.id > lastID { lastID = e.id }
                if journalEntries.last.map({ e.id > $0.id }) ?? true { journalEntries.append(e) }
            case .carry(let e):
                if journalEntries.last.map({ e.id > $0.id }) ?? true { journalEntries.append(e) }
            case .delete(let ids):
                for id in ids {
                    deleted.insert(id)
                    if id > maxDeletedID { maxDeletedID = id }
                }
            case .trim(let through):
                if trimmedThrough.map({ through > $0 }) ?? true { trimmedThrough = through }
            case .setMeta(let last, let added, let maxDeleted):
                lastID = last
                entriesAdded = added
                maxDeletedID = maxDeleted
                hasSetMeta = true
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
