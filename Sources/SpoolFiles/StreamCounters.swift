public import SpoolFormat

/// The counters Redis keeps per stream (reference §1.4); its length and first ID are derived.
public struct StreamMeta: Sendable, Equatable {
    /// Last-generated ID.
    public var lastID: StreamID
    /// Entries-added counter.
    public var entriesAdded: UInt64
    /// Largest deleted ID (max-deleted-entry-id).
    public var maxDeletedID: StreamID

    public init(lastID: StreamID = .zero, entriesAdded: UInt64 = 0, maxDeletedID: StreamID = .zero) {
        self.lastID = lastID
        self.entriesAdded = entriesAdded
        self.maxDeletedID = maxDeletedID
    }
}

/// The one fold of a stream's checkpoint and journal records into its counters (FORMAT.md §6,
/// §7): `StreamCore` replays the journal through `apply`, record by record (sealing during the
/// replay reads the counters as they are at that record), and the tools fold the same way.
public struct StreamCounters: Sendable, Equatable {
    /// Redis's counters.
    public var meta: StreamMeta
    /// The highest last-generated ID the stream had before XSETID moved it back (0-0 if never).
    public var lastIDHighWater: StreamID

    /// The highest ID any group may legitimately reference: pending entries beyond it were lost
    /// with a torn stream tail (FORMAT.md §8.3).
    public var referenceTop: StreamID { max(lastIDHighWater, meta.lastID) }

    /// A new stream's counters.
    public init() {
        meta = StreamMeta()
        lastIDHighWater = .zero
    }

    /// The counters a checkpoint holds.
    public init(checkpoint: StreamCheckpoint) {
        meta = StreamMeta(lastID: checkpoint.lastID, entriesAdded: checkpoint.entriesAdded, maxDeletedID: checkpoint.maxDeletedID)
        lastIDHighWater = checkpoint.lastIDHighWater
    }

    /// Applies one journal record: an ENTRY counts and may raise the last ID, a DELETE may raise
    /// max-deleted, a SETMETA sets all three (remembering the last ID it may move back);
    /// CARRY and TRIM change no counter.
    public mutating func apply(_ record: JournalFormat.Record) {
        switch record {
        case .entry(let e):
            meta.entriesAdded &+= 1
            if e.id > meta.lastID { meta.lastID = e.id }
        case .delete(let ids):
            for id in ids where id > meta.maxDeletedID { meta.maxDeletedID = id }
        case .setMeta(let last, let added, let maxDeleted):
            setMeta(StreamMeta(lastID: last, entriesAdded: added, maxDeletedID: maxDeleted))
        case .carry, .trim, .group:
            break
        }
    }

    /// XSETID's change of the counters (what a SETMETA record replays).
    public mutating func setMeta(_ m: StreamMeta) {
        lastIDHighWater = referenceTop
        meta = m
    }
}
