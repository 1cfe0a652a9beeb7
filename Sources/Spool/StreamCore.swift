import Logging
import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// Where a sealed block is and what it holds. The radix tree maps a block's first ID to this.
struct BlockInfo: Sendable {
    var segment: UInt64
    var offset: UInt64
    var frameLength: UInt32
    /// Entries physically in the block (live and deleted).
    var count: UInt32
    /// Entries logically deleted (XDEL, exact trim) but still in the block.
    var deleted: UInt32
    var lastID: StreamID
    var live: Int { Int(count) - Int(deleted) }
}

/// The unsealed tail block (Redis's tail node): in memory, every entry in the journal.
struct OpenBlock: Sendable {
    var entries: [StreamEntry] = []
    var deleted: Set<StreamID> = []
    var master: [[UInt8]] = []
    /// Redis listpack size of the node apart from its live/deleted counters.
    var bodyBytes = 0
    var live: Int { entries.count - deleted.count }
    var redisBytes: Int { RedisNodeSize.total(bodyBytes: bodyBytes, live: live, deleted: deleted.count) }

    mutating func add(_ e: StreamEntry) {
        if entries.isEmpty {
            master = BlockCodec.masterFields(of: e)
            bodyBytes = RedisNodeSize.masterBody(fields: master)
        }
        let same = e.pairCount == master.count && (0..<master.count).allSatisfy { e.fields[2 * $0] == master[$0] }
        bodyBytes += RedisNodeSize.entry(e, master: entries.first?.id ?? e.id, sameFields: same)
        entries.append(e)
    }
}

/// A point-in-time view for readers: value types copied under the lock (copy-on-write, so
/// O(1)), read without it.
struct StreamSnapshot: Sendable {
    var index: RadixTree<BlockInfo>
    var blockTombstones: [StreamID: Set<StreamID>]
    var open: OpenBlock
    var segments: [UInt64: Segment]
}

/// The state and files of one stream. Not thread-safe: `Stream` guards it with a mutex.
struct StreamCore {
    let directory: String
    let options: StoreOptions
    let logger: Logger

    /// Redis's counters and the last ID's high-water mark, kept in the checkpoint and folded
    /// forward by journal replay (`StreamCounters.apply`).
    var counters = StreamCounters()
    var meta: StreamMeta {
        get { counters.meta }
        set { counters.meta = newValue }
    }

    /// The highest last-generated ID the stream had before XSETID moved it back (0-0 if never).
    var lastIDHighWater: StreamID { counters.lastIDHighWater }

    /// The highest ID any group may legitimately reference (FORMAT.md §8.3).
    var referenceTop: StreamID { counters.referenceTop }
    var index = RadixTree<BlockInfo>()
    var blockTombstones: [StreamID: Set<StreamID>] = [:]
    var open = OpenBlock()
    var length = 0

    /// Highest ID physically present in any sealed block, dropped or not.
    var sealedThrough: StreamID? = nil

    /// Highest ID of an entry in the current journal generation (ENTRY or CARRY record), live
    /// or not: replay would apply the generation's records to any later entry reusing an ID up
    /// to here, so XSETID may not let one be appended again without starting the storage over.
    var journalTop: StreamID? = nil
    var trimmedThrough: StreamID? = nil

    /// Blocks dropped whole by XDEL while their segment lives: first ID → segment.
    var droppedBlocks: [StreamID: UInt64] = [:]
    var segments: [UInt64: Segment] = [:]
    var segmentLiveBlocks: [UInt64: Int] = [:]

    /// Footer entries of the active segment's blocks, for sealing it.
    var activeBlocks: [SegmentFormat.FooterEntry] = []
    var active: Segment { didSet { liveSealedBytes = nil } }
    /// What the segments other than the active one that hold live blocks take on disk, for
    /// `segmentTarget` (nil: sum it again). It changes only when the active segment is replaced
    /// or a segment loses its last live block (`deleteSegment` then runs).
    var liveSealedBytes: Int64? = nil

    /// The last segment was sealed by a roll; the next block starts a new segment file. The last
    /// segment file is never deleted, so the highest sealed ID is always on disk.
    var activeSealed = false

    /// A sealed tail block that was reopened (Redis appends to its tail node while it has room):
    /// its old copy stays on disk, live for recovery, until the grown block is sealed.
    var reopened: (first: StreamID, segment: UInt64)? = nil
    /// The store journal, shared by every stream of the store.
    let journal: StoreJournal
    /// The stream's name in the store journal's records.
    let key: StreamKey
    /// Where the installed checkpoint says this stream's records continue.
    var checkpointPosition: JournalPosition
    /// The journal epoch of the stream's last record (`StoreJournal.wasLost`).
    var journalEpoch: UInt64 = 0
    /// The oldest store journal file holding a record of this stream after its checkpoint
    /// (nil: none).
    var oldestNeededFile: UInt64? = nil
    /// The oldest store journal file holding a group record of this stream after its group
    /// checkpoint (nil: none).
    var groupsNeededFile: UInt64? = nil
    /// The oldest store journal file the stream needs: files older than every stream's can be
    /// deleted.
    var neededFile: UInt64? {
        guard let g = groupsNeededFile else { return oldestNeededFile }
        return min(oldestNeededFile ?? g, g)
    }
    /// Counts the checkpoints installed, so that a checkpoint prepared by a retirement is not
    /// installed over a newer one (`SpoolStore.retireJournal`).
    var checkpointSeq: UInt64 = 0
    /// Counts the records the stream logged.
    var logCount: UInt64 = 0
    var deletedFiles = false

    /// Set while open replays the journal: no checkpoint may rotate the journal then.
    var replaying = false

    /// A grown reopened block was sealed during replay without the checkpoint that precedes one.
    var sealedRegrownWhileReplaying = false

    /// The mutation running leaves its records in the journal's buffer for the group commit
    /// that makes it durable to write (policy `always`; see `SpoolStream.lockedMutation`).
    var stagingForSync = false

    /// A deferred write failed: memory is ahead of the files, and the stream must be reloaded
    /// from disk before it is used again.
    var poisoned = false

    /// Consumer groups (the fold of their files, `StreamGroups`; Groups/StreamCore+GroupFiles.swift
    /// writes them).
    var groups = StreamGroups()

    /// Where the installed group checkpoint (`groups`) says the stream's group records
    /// continue in the store journal; nil until the stream's first group is created.
    var groupsPosition: JournalPosition? = nil
    /// Counts the group records the stream logged.
    var groupLogCount: UInt64 = 0
    /// As `checkpointSeq`, for group checkpoints.
    var groupCheckpointSeq: UInt64 = 0

    /// A consumer's seen-time changed without a journal record (a read that delivered
    /// nothing): the next group checkpoint — at the latest the one a clean close writes — keeps it.
    var groupSeenChanged = false

    var snapshot: StreamSnapshot {
        StreamSnapshot(index: index, blockTombstones: blockTombstones, open: open, segments: segments)
    }

    init(directory: String, key: StreamKey, options: StoreOptions, logger: Logger, active: Segment, journal: StoreJournal,
         checkpointPosition: JournalPosition) {
        self.directory = directory
        self.key = key
        self.options = options
        self.logger = logger
        self.active = active
        self.journal = journal
        self.checkpointPosition = checkpointPosition
        self.checkpointSeq = journal.nextCheckpointSeq()
        segments[active.number] = active
        segmentLiveBlocks[active.number] = 0
    }
}
