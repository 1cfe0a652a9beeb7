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
    var active: Segment
    /// The last segment was sealed by a roll; the next block starts a new segment file. The last
    /// segment file is never deleted, so the highest sealed ID is always on disk.
    var activeSealed = false
    /// A sealed tail block that was reopened (Redis appends to its tail node while it has room):
    /// its old copy stays on disk, live for recovery, until the grown block is sealed.
    var reopened: (first: StreamID, segment: UInt64)? = nil
    var journal: AppendFile
    var journalGeneration: UInt64
    var deletedFiles = false
    /// Set while open replays the journal: no checkpoint may rotate the journal then.
    var replaying = false
    /// A grown reopened block was sealed during replay without the checkpoint that precedes one.
    var sealedRegrownWhileReplaying = false
    /// Journal records not yet written (`deferJournalWrites`, or staged for a group commit).
    var pendingJournal = ByteWriter()
    /// The mutation running leaves its records in `pendingJournal` for the group commit that
    /// makes it durable to write (policy `always`; see `SpoolStream.lockedMutation`).
    var stagingForSync = false
    /// Reused buffer of `log`'s and `commitGroup`'s record encoding (one allocation per stream,
    /// not per record).
    var scratch = ByteWriter()
    /// A deferred write failed: memory is ahead of the files, and the stream must be reloaded
    /// from disk before it is used again.
    var poisoned = false
    /// Consumer groups (the fold of their files, `StreamGroups`; Groups/StreamCore+GroupFiles.swift
    /// writes them).
    var groups = StreamGroups()
    /// The group journal; nil until the stream's first group is created.
    var groupJournal: AppendFile? = nil
    /// A consumer's seen-time changed without a journal record (a read that delivered
    /// nothing): the next group checkpoint — at the latest the one a clean close writes — keeps it.
    var groupSeenChanged = false

    var snapshot: StreamSnapshot {
        StreamSnapshot(index: index, blockTombstones: blockTombstones, open: open, segments: segments)
    }

    // MARK: Creation and recovery

    /// Creates the files of a new, empty stream in `directory` (which exists and is empty but
    /// for the name file).
    static func create(directory: String, options: StoreOptions, logger: Logger) throws(SpoolError) -> StreamCore {
        do {
            let seg = try Segment.create(directory: directory, number: 1)
            let journal = try AppendFile.createJournal(at: directory + "/" + JournalFormat.fileName(1),
                                                       initial: JournalFormat.encodeHeader(generation: 1),
                                                       reservation: options.journalReservation)
            let cp = StreamCheckpoint(journalGeneration: 1, lastID: .zero, entriesAdded: 0, maxDeletedID: .zero,
                                      trimmedThrough: nil, droppedBlocks: [], tombstones: [])
            try FileSystem.writeAtomically(directory + "/" + StreamCheckpoint.fileName, cp.encode())
            return StreamCore(directory: directory, options: options, logger: logger, active: seg, journal: journal, journalGeneration: 1)
        } catch {
            throw error.spool
        }
    }

    init(directory: String, options: StoreOptions, logger: Logger, active: Segment, journal: AppendFile, journalGeneration: UInt64) {
        self.directory = directory
        self.options = options
        self.logger = logger
        self.active = active
        self.journal = journal
        self.journalGeneration = journalGeneration
        segments[active.number] = active
        segmentLiveBlocks[active.number] = 0
    }

    // MARK: Appending

    /// The ID the next XADD gets, or Redis's error.
    func nextID(_ spec: AppendID, nowMs: UInt64) throws(SpoolError) -> StreamID {
        let last = meta.lastID
        // Redis checks this first, whatever the ID asked for.
        if last == .max { throw SpoolError.exhausted }
        switch spec {
        case .auto:
            if nowMs > last.ms { return StreamID(nowMs, 0) }
            guard let next = last.successor else { throw SpoolError.exhausted }
            return next
        case .autoSequence(let ms):
            if ms > last.ms { return StreamID(ms, 0) }
            if ms == last.ms {
                guard last.seq < .max else { throw SpoolError.xaddSmaller }
                return StreamID(ms, last.seq + 1)
            }
            throw SpoolError.xaddSmaller
        case .explicit(let id):
            guard id > last else { throw SpoolError.xaddSmaller }
            return id
        }
    }

    /// Whether Redis would start a new node before appending `e` to the tail node `tail`.
    func needsNewBlock(_ tail: OpenBlock, for e: StreamEntry) -> Bool {
        guard !tail.entries.isEmpty else { return false }
        let maxBytes = (options.nodeMaxBytes <= 0 || options.nodeMaxBytes > (1 << 30)) ? (1 << 30) : options.nodeMaxBytes
        if tail.redisBytes + e.payloadBytes >= maxBytes { return true }
        if options.nodeMaxEntries > 0 && tail.entries.count >= options.nodeMaxEntries { return true }
        return false
    }

    func needsNewBlock(for e: StreamEntry) -> Bool { needsNewBlock(open, for: e) }

    /// Redis appends to its tail node while it has room. Spool's tail node is the open block,
    /// except right after the open block was deleted whole: then it is the last sealed block,
    /// which is reopened (read back into the open block) when Redis would append to it. A pure
    /// function of the state, so journal replay repeats it without a record of its own.
    mutating func reopenTailIfRedisWould(_ e: StreamEntry) throws(SpoolError) {
        guard open.entries.isEmpty, reopened == nil, let (first, info) = index.last else { return }
        let candidate = try reopenCandidate(first, info)
        guard !needsNewBlock(candidate, for: e) else { return }
        reopen(first, info, candidate)
    }

    /// The sealed block `first` read back as a tail block, with its deleted entries.
    func reopenCandidate(_ first: StreamID, _ info: BlockInfo) throws(SpoolError) -> OpenBlock {
        var candidate = OpenBlock()
        for x in try readBlock(info, first: first) { candidate.add(x) }
        candidate.deleted = blockTombstones[first] ?? []
        return candidate
    }

    /// Makes the sealed block `first` (read back as `candidate`) the tail block; its frame stays
    /// on disk, live for recovery, until the grown block is sealed.
    mutating func reopen(_ first: StreamID, _ info: BlockInfo, _ candidate: OpenBlock) {
        index.removeValue(forKey: first)
        blockTombstones.removeValue(forKey: first)
        reopened = (first, info.segment)
        open = candidate
    }

    /// The reopened block's old copy is no longer needed (sealed again, or deleted whole).
    mutating func releaseReopened(dropped: Bool) {
        guard let r = reopened else { return }
        reopened = nil
        if dropped { droppedBlocks[r.first] = r.segment }
        let left = segmentLiveBlocks[r.segment, default: 1] - 1
        segmentLiveBlocks[r.segment] = left
        if left == 0 && r.segment != active.number { try? deleteSegment(r.segment) }
    }

    /// Puts `e` (already journaled) into the tail block, sealing the old tail first when Redis
    /// would start a new node.
    mutating func placeInOpenBlock(_ e: StreamEntry) throws(SpoolError) {
        try reopenTailIfRedisWould(e)
        if needsNewBlock(for: e) { try sealOpenBlock() }
        open.add(e)
        length += 1
    }

    /// Writes the tail block to the active segment and indexes it.
    mutating func sealOpenBlock() throws(SpoolError) {
        guard !open.entries.isEmpty else { return }
        try flushPending()  // a block's entries are in the journal before the block is written
        if let s = sealedThrough, open.entries[0].id <= s {
            // A reopened block, grown: its ID range may now span IDs of blocks deleted whole
            // since it was first sealed, whose tombstones the last checkpoint may still list;
            // open takes a listed tombstone as an entry of the block whose range holds it, so a
            // checkpoint comes first (FORMAT.md §10). Rare: the tail deleted whole, then appends.
            if replaying { sealedRegrownWhileReplaying = true } else { try checkpoint() }
            if !activeSealed, let lastFrame = activeBlocks.last, lastFrame.firstID != open.entries[0].id {
                // Within a file a block supersedes only the frame just before it (FORMAT.md
                // §4.5); blocks deleted whole follow this one's old copy: a new segment.
                try rollSegment()
            }
        }
        if activeSealed {
            do {
                let next = try Segment.create(directory: directory, number: active.number + 1)
                active = next
                activeSealed = false
                activeBlocks = []
                segments[next.number] = next
                segmentLiveBlocks[next.number] = 0
            } catch { throw error.spool }
        }
        let frame = Segment.encodeFrame(open.entries, entriesAdded: meta.entriesAdded, compress: options.compress)
        let offset = try active.appendFrame(frame)
        let first = open.entries[0].id
        let last = open.entries[open.entries.count - 1].id
        let info = BlockInfo(segment: active.number, offset: offset, frameLength: UInt32(frame.count),
                             count: UInt32(open.entries.count), deleted: UInt32(open.deleted.count), lastID: last)
        activeBlocks.append(SegmentFormat.FooterEntry(offset: offset, frameLength: UInt32(frame.count), count: info.count, firstID: first, lastID: last))
        sealedThrough = last
        // Even a block with no live entry left: only a trim leaves a tail block so (XDEL drops it).
        index.updateValue(info, forKey: first)
        if !open.deleted.isEmpty { blockTombstones[first] = open.deleted }
        segmentLiveBlocks[active.number, default: 0] += 1
        open = OpenBlock()
        releaseReopened(dropped: false)
        if active.size >= Int64(options.segmentBytes) { try rollSegment() }
    }

    /// Seals the active segment (footer, fdatasync, map); the next block starts the next file.
    mutating func rollSegment() throws(SpoolError) {
        do { try active.seal(blocks: activeBlocks) } catch { throw error.spool }
        activeSealed = true
        activeBlocks = []
    }

    /// Appends one journal record; returns the journal end offset to sync to.
    mutating func log(_ record: JournalFormat.Record) throws(SpoolError) -> Int64 {
        if defersJournal || pendingJournal.count > 0 {
            JournalFormat.encode(record, into: &pendingJournal)
            return try endAfterLogging()
        }
        scratch.bytes.removeAll(keepingCapacity: true)
        JournalFormat.encode(record, into: &scratch)
        return try appendScratch(to: journal)
    }

    /// Appends what `scratch` holds to `file`; returns the file's new end.
    func appendScratch(to file: AppendFile) throws(SpoolError) -> Int64 {
        do { return try file.append(scratch.bytes) } catch { throw error.spool }
    }

    /// Appends already-encoded journal records, in order with `log`.
    mutating func logEncoded(_ bytes: [UInt8]) throws(SpoolError) -> Int64 {
        if defersJournal || pendingJournal.count > 0 {
            pendingJournal.writeBytes(bytes)
            return try endAfterLogging()
        }
        do { return try journal.append(bytes) } catch { throw error.spool }
    }

    /// Whether records logged now stay in memory (`pendingJournal`) until a flush: under
    /// `deferJournalWrites`, and for a mutation whose group commit writes them (`stagingForSync`).
    var defersJournal: Bool { options.deferJournalWrites || stagingForSync }

    /// After a record went to `pendingJournal`: writes it now unless records are deferred (it
    /// queued behind records staged earlier, to keep the journal's order); returns the logical
    /// end of the journal, pending records included.
    private mutating func endAfterLogging() throws(SpoolError) -> Int64 {
        if !defersJournal { try flushPending() }
        return journal.size + Int64(pendingJournal.count)
    }

    /// Writes deferred journal records (one pwrite). On failure the stream is poisoned: what is
    /// in memory was never written, so it is reloaded from disk before its next use.
    mutating func flushPending() throws(SpoolError) {
        do { try writePending() } catch { throw error.spool }
    }

    /// `flushPending` with the file's error.
    mutating func writePending() throws(IOError) {
        guard pendingJournal.count > 0 else { return }
        do {
            try journal.append(pendingJournal.bytes)
            pendingJournal.bytes.removeAll(keepingCapacity: true)
        } catch {
            // Mutations whose records these were may still wait for a group commit to cover
            // them: they fail, whatever becomes of the journal.
            journal.markLost(error)
            poisoned = true
            pendingJournal.bytes.removeAll(keepingCapacity: false)
            throw error
        }
    }

    /// XADD without trimming: returns the new ID and the journal offset that makes it durable.
    mutating func append(fields: [[UInt8]], id spec: AppendID, nowMs: UInt64) throws(SpoolError) -> (StreamID, Int64) {
        let id = try nextID(spec, nowMs: nowMs)
        let e = StreamEntry(id: id, fields: fields)
        try reopenTailIfRedisWould(e)
        if needsNewBlock(for: e) { try sealOpenBlock() }
        let end = try log(.entry(e))
        meta.lastID = id
        journalTop = id
        meta.entriesAdded &+= 1
        open.add(e)
        length += 1
        return (id, end)
    }

    /// `appendBatch(_:nowMs:ids:)` returning the IDs with the journal offset to sync to.
    mutating func appendBatch(_ batch: [[[UInt8]]], nowMs: UInt64) throws(SpoolError) -> ([StreamID], Int64?) {
        var ids: [StreamID] = []
        ids.reserveCapacity(batch.count)
        let end = try appendBatch(batch, nowMs: nowMs, ids: &ids)
        return (ids, end)
    }

    /// Appends many entries with auto IDs, writing the journal once per block rather than once
    /// per entry. Entries are applied in memory only after their journal bytes are written, so a
    /// failure leaves a prefix of the batch appended (returned in `ids` before the error is
    /// rethrown by the caller) and nothing half-done.
    mutating func appendBatch(_ batch: [[[UInt8]]], nowMs: UInt64, ids: inout [StreamID]) throws(SpoolError) -> Int64? {
        var w = ByteWriter(capacity: 8192)
        var shadowOpen = open
        var shadowMeta = meta
        var pending = 0
        var end: Int64? = nil
        func commit(_ core: inout StreamCore) throws(SpoolError) {
            guard pending > 0 else { return }
            end = try core.logEncoded(w.bytes)
            core.open = shadowOpen
            core.meta = shadowMeta
            core.journalTop = shadowMeta.lastID
            core.length += pending
            pending = 0
            w.bytes.removeAll(keepingCapacity: true)
        }
        for fields in batch {
            let last = shadowMeta.lastID
            let id: StreamID
            if nowMs > last.ms { id = StreamID(nowMs, 0) } else {
                guard let next = last.successor else { try commit(&self); throw SpoolError.exhausted }
                id = next
            }
            let e = StreamEntry(id: id, fields: fields)
            if shadowOpen.entries.isEmpty {
                try commit(&self)
                try reopenTailIfRedisWould(e)
                shadowOpen = open
            }
            if needsNewBlock(shadowOpen, for: e) {
                try commit(&self)
                try sealOpenBlock()
                shadowOpen = open
            }
            JournalFormat.encode(.entry(e), into: &w)
            shadowOpen.add(e)
            shadowMeta.lastID = id
            shadowMeta.entriesAdded &+= 1
            pending += 1
            ids.append(id)
        }
        try commit(&self)
        return end
    }

    // MARK: Deleting

    enum DropReason { case deleted, trimmed }

    /// Removes a block from the index; deletes its segment file when nothing else lives there.
    mutating func dropBlock(_ first: StreamID, _ info: BlockInfo, reason: DropReason) {
        index.removeValue(forKey: first)
        blockTombstones.removeValue(forKey: first)
        if reason == .deleted { droppedBlocks[first] = info.segment }
        let left = segmentLiveBlocks[info.segment, default: 1] - 1
        segmentLiveBlocks[info.segment] = left
        if left == 0 && info.segment != active.number {
            try? deleteSegment(info.segment)
        }
    }

    /// Deletes a segment file none of whose blocks is live.
    mutating func deleteSegment(_ number: UInt64) throws(IOError) {
        // The records saying why the file goes (a trim, deletes) reach the journal before it
        // goes, even those staged for a group commit: a killed process keeps the page cache,
        // not this process's memory.
        try writePending()
        guard let seg = segments.removeValue(forKey: number) else { return }
        segmentLiveBlocks.removeValue(forKey: number)
        droppedBlocks = droppedBlocks.filter { $0.value != number }
        try FileSystem.removeFile(seg.path)
        deletedFiles = true
    }

    /// Whether `id` is a live entry.
    func contains(_ id: StreamID) throws(SpoolError) -> Bool {
        if let first = open.entries.first?.id, id >= first {
            return open.entries.contains { $0.id == id } && !open.deleted.contains(id)
        }
        guard let (first, info) = index.floor(id), id <= info.lastID else { return false }
        if blockTombstones[first]?.contains(id) == true { return false }
        return try readBlock(info, first: first).contains { $0.id == id }
    }

    /// Marks one live entry deleted; returns whether it was live. A block left without live
    /// entries goes, as Redis frees a node when XDEL deletes its last entry, unless
    /// `keepingEmptyBlock`: Redis's exact trim marks entries in the node where it stops and
    /// keeps that node even when none is left (it still counts in `radix-tree-keys`, and the
    /// next XADD may append to it).
    mutating func deleteOne(_ id: StreamID, keepingEmptyBlock: Bool = false) throws(SpoolError) -> Bool {
        if let first = open.entries.first?.id, id >= first {
            guard !open.deleted.contains(id), open.entries.contains(where: { $0.id == id }) else { return false }
            open.deleted.insert(id)
            length -= 1
            if !keepingEmptyBlock && open.deleted.count == open.entries.count {
                open = OpenBlock()
                releaseReopened(dropped: true)
            }
            return true
        }
        guard let (first, info) = index.floor(id), id <= info.lastID else { return false }
        if blockTombstones[first]?.contains(id) == true { return false }
        guard try readBlock(info, first: first).contains(where: { $0.id == id }) else { return false }
        blockTombstones[first, default: []].insert(id)
        length -= 1
        if !keepingEmptyBlock && Int(info.deleted) + 1 >= Int(info.count) {
            dropBlock(first, info, reason: .deleted)
        } else {
            index.updateValue(forKey: first) { $0.deleted += 1 }
        }
        return true
    }

    /// XDEL: returns the number of entries deleted and the journal offset to sync to.
    mutating func delete(_ ids: [StreamID]) throws(SpoolError) -> (Int, Int64?) {
        var toDelete: [StreamID] = []
        var seen = Set<StreamID>()
        for id in ids where seen.insert(id).inserted {
            if try contains(id) { toDelete.append(id) }
        }
        guard !toDelete.isEmpty else { return (0, nil) }
        let end = try log(.delete(toDelete))
        for id in toDelete {
            _ = try deleteOne(id)
            if id > meta.maxDeletedID { meta.maxDeletedID = id }
        }
        return (toDelete.count, end)
    }

    /// Removes every entry with ID ≤ `through`: whole blocks, then single entries of the block
    /// that straddles it.
    mutating func removeThrough(_ through: StreamID) throws(SpoolError) {
        if let t = trimmedThrough, through <= t { return }
        trimmedThrough = through
        while let (first, info) = index.first, first <= through {
            if info.lastID <= through {
                length -= info.live
                dropBlock(first, info, reason: .trimmed)
                continue
            }
            for e in try readBlock(info, first: first) where e.id <= through {
                _ = try deleteOne(e.id, keepingEmptyBlock: true)
            }
            break
        }
        if let first = open.entries.first?.id, first <= through {
            // Whole (it goes), or the block where the trim stops (it stays).
            let straddles = open.entries[open.entries.count - 1].id > through
            for e in open.entries where e.id <= through { _ = try deleteOne(e.id, keepingEmptyBlock: straddles) }
        }
    }

    // MARK: Trimming

    /// A trim request: MAXLEN or MINID, exact or approximate, with LIMIT.
    mutating func trim(_ spec: TrimSpec) throws(SpoolError) -> (Int, Int64?) {
        guard let through = try trimPlan(spec) else { return (0, nil) }
        let before = length
        let end = try log(.trim(through: through))
        try removeThrough(through)
        return (before - length, end)
    }

    /// Decides, as Redis's `streamTrim` does node by node, the last entry ID to remove.
    func trimPlan(_ spec: TrimSpec) throws(SpoolError) -> StreamID? {
        var limit = 0
        if spec.approximate {
            if let l = spec.limit { limit = l } else {
                limit = 100 * options.nodeMaxEntries
                if limit <= 0 || limit > 1_000_000 { limit = limit <= 0 ? 10000 : 1_000_000 }
            }
        }
        var len = length
        var removed = 0
        var through: StreamID? = nil
        // Nodes in order: sealed blocks, then the open block.
        var cursor = index.first
        var openVisited = false
        while true {
            let first: StreamID, last: StreamID, live: Int, isOpen: Bool
            if let (f, info) = cursor {
                first = f; last = info.lastID; live = info.live; isOpen = false
            } else if !openVisited, !open.entries.isEmpty {
                first = open.entries[0].id; last = open.entries[open.entries.count - 1].id; live = open.live; isOpen = true
                openVisited = true
            } else {
                break
            }
            if case .maxLen(let m) = spec.strategy, len <= m { break }
            if limit > 0 && removed + live > limit { break }
            let removeWhole: Bool
            switch spec.strategy {
            case .maxLen(let m): removeWhole = len - live >= m
            case .minID(let minID): removeWhole = last < minID
            }
            if removeWhole {
                len -= live
                removed += live
                through = last
                cursor = isOpen ? nil : index.successor(of: first)
                if isOpen { break }
                continue
            }
            if spec.approximate { break }
            let entries: [StreamEntry] = isOpen ? open.entries : try readBlock(index[first]!, first: first)
            let tomb: Set<StreamID> = isOpen ? open.deleted : (blockTombstones[first] ?? [])
            for e in entries where !tomb.contains(e.id) {
                switch spec.strategy {
                case .maxLen(let m): if len <= m { return through }
                case .minID(let minID): if e.id >= minID { return through }
                }
                len -= 1
                through = e.id
            }
            break
        }
        return through
    }

    // MARK: Reading

    /// Decodes a sealed block.
    func readBlock(_ info: BlockInfo, first: StreamID) throws(SpoolError) -> [StreamEntry] {
        try Self.readBlock(info, first: first, segments: segments)
    }

    static func readBlock(_ info: BlockInfo, first: StreamID, segments: [UInt64: Segment]) throws(SpoolError) -> [StreamEntry] {
        guard let seg = segments[info.segment] else {
            throw SpoolError.closed("segment \(hex16(info.segment)) of block \(first) is gone")
        }
        if let hit = seg.cachedBlock(at: info.offset) { return hit }
        let (header, raw) = try seg.readBlock(offset: info.offset, frameLength: info.frameLength)
        guard header.firstID == first, header.count == info.count else {
            throw SpoolError.corrupt(FormatError(file: seg.path, offset: info.offset, "block header does not match the index (\(header.firstID) vs \(first))"))
        }
        let entries: [StreamEntry]
        do {
            entries = try raw.withBytes { (b) throws(FormatError) in
                try BlockCodec.decode(b, count: Int(header.count), firstID: header.firstID, file: seg.path + " (block payload at \(info.offset))")
            }
        } catch { throw error.spool }
        seg.cacheBlock(entries, at: info.offset)
        return entries
    }

    /// The first live entry's ID, or nil when empty.
    func firstLiveID() throws(SpoolError) -> StreamID? {
        guard length > 0 else { return nil }
        // Without deletions in the first block (or the tail block, when it is the only one)
        // its first entry is live: no block is read (XREADGROUP asks on every call).
        if let (first, info) = index.first {
            if info.deleted == 0 { return first }
        } else if let e = open.entries.first, open.deleted.isEmpty {
            return e.id
        }
        return try StreamReader(snapshot).range(from: .zero, to: .max, count: 1, reverse: false).first?.id
    }

    func lastLiveID() throws(SpoolError) -> StreamID? {
        guard length > 0 else { return nil }
        return try StreamReader(snapshot).range(from: .zero, to: .max, count: 1, reverse: true).first?.id
    }

    // MARK: Durability

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

/// A trim request.
public struct TrimSpec: Sendable, Equatable {
    /// What to keep.
    public enum Strategy: Sendable, Equatable {
        /// Keep the newest N entries.
        case maxLen(Int)
        /// Remove entries with ID below this.
        case minID(StreamID)
    }
    /// MAXLEN or MINID.
    public var strategy: Strategy
    /// `~`: remove whole blocks only.
    public var approximate: Bool
    /// LIMIT (only with `~`); nil = Redis's default (100 × node max entries); 0 = unlimited.
    public var limit: Int?

    /// Creates a trim request.
    public init(_ strategy: Strategy, approximate: Bool = false, limit: Int? = nil) {
        self.strategy = strategy
        self.approximate = approximate
        self.limit = limit
    }
}
