public import SpoolFormat
import Synchronization
import SpoolIO
import Logging

/// What XINFO STREAM reports about a stream.
public struct StreamInfo: Sendable, Equatable {
    /// Number of live entries.
    public var length: Int
    /// Number of blocks (Redis's `radix-tree-keys`, nodes).
    public var blocks: Int
    /// Nodes of the in-memory radix tree.
    public var radixTreeNodes: Int
    /// Last-generated ID.
    public var lastGeneratedID: StreamID
    /// Largest ID deleted by XDEL.
    public var maxDeletedEntryID: StreamID
    /// Lifetime number of appended entries.
    public var entriesAdded: UInt64
    /// First live entry's ID (0-0 when empty).
    public var recordedFirstEntryID: StreamID
    /// First live entry.
    public var firstEntry: StreamEntry?
    /// Last live entry.
    public var lastEntry: StreamEntry?
    /// Segment files of the stream.
    public var segments: Int
    /// Bytes of the stream's segment files on disk (its records in the store journal are not counted).
    public var diskBytes: Int64
    /// Approximate bytes of index memory.
    public var indexBytes: Int
}

/// One stream of a database: append, read, delete and trim, with Redis's semantics.
///
/// Any number of threads may call any method; one writer at a time mutates (a mutex), readers
/// copy a consistent snapshot under the mutex and read blocks outside it. With policy `always`
/// a mutation returns after an fdatasync of the stream's journal, shared with concurrent
/// writers (group commit).
public final class SpoolStream: Sendable {
    let core: SleepingMutex<StreamCore?>
    /// The store journal.
    let journal: StoreJournal
    let directory: String
    let policy: FsyncPolicy
    private let nameBox: Mutex<[UInt8]>

    init(core: StreamCore, name: [UInt8], policy: FsyncPolicy) {
        self.directory = core.directory
        self.journal = core.journal
        self.core = SleepingMutex(core)
        self.policy = policy
        self.nameBox = Mutex(name)
    }

    /// A stream whose deferred journal write failed has memory ahead of its files: drop the
    /// memory and reopen from disk, which holds every acknowledged change.
    static func heal(_ c: inout StreamCore?) throws(SpoolError) {
        // Tested without binding the core: a copy of it costs a retain of every field, and this
        // runs before every mutation.
        guard c?.isPoisoned == true, let cc = c else { return }
        c = nil
        c = try StreamCore.open(directory: cc.directory, key: cc.key, journal: cc.journal, options: cc.options, logger: cc.logger)
    }

    /// The stream's name.
    public var name: [UInt8] { nameBox.withLock { $0 } }
    func setName(_ n: [UInt8]) { nameBox.withLock { $0 = n } }

    /// Runs a mutation under the lock, then makes it durable per policy outside the lock.
    func mutate<R>(sync: Bool, _ body: (inout StreamCore) throws(SpoolError) -> (R, Int64?)) throws(SpoolError) -> R {
        let (result, durable) = try lockedMutation(sync: sync, body)
        if let end = durable {
            do { try journal.syncCovering(end) } catch { throw error.spool }
        }
        journal.retireIfWanted()
        return result
    }

    /// `mutate` for tasks: the wait for the fdatasync (policy `always`) suspends the task
    /// instead of blocking its thread.
    func mutate<R>(_ body: (inout StreamCore) throws(SpoolError) -> (R, Int64?)) async throws(SpoolError) -> R {
        let (result, durable) = try lockedMutation(sync: true, body)
        if let end = durable {
            do { try await journal.syncCovering(end) } catch { throw error.spool }
        }
        journal.retireIfWanted()
        return result
    }

    /// The locked half of a mutation: runs `body` and returns the journal offset that must be
    /// synced before it is acknowledged (nil when the policy or `sync` asks for none). Under
    /// policy `always` its journal records stay in the store journal's buffer, and the group
    /// commit that syncs them writes the buffer first: one `pwrite` for all the appenders (of
    /// every stream) a sync covers instead of one each, and none of them writes into a page the
    /// sync is writing back. Otherwise they are written before the lock is released, so a
    /// killed process keeps them.
    private func lockedMutation<R>(sync: Bool, _ body: (inout StreamCore) throws(SpoolError) -> (R, Int64?)) throws(SpoolError) -> (R, Int64?) {
        let staging = sync && policy == .always
        let (result, end): (R, Int64?) = try core.withLock { (c) throws(SpoolError) in
            guard c != nil else { throw SpoolError.closed("stream was deleted or its store closed") }
            try Self.heal(&c)
            c!.stagingForSync = staging
            defer { c!.stagingForSync = false }
            let (r, end) = try body(&c!)
            if sync && !staging { try c!.flushPending() }
            return (r, end)
        }
        guard staging, let end else { return (result, nil) }
        return (result, end)
    }

    /// XADD: appends an entry (`fields` alternates field and value, at least one pair) and
    /// returns its ID; trims afterwards when `trim` is given. With `sync` false the call does not
    /// wait for fdatasync even under policy `always` (call `syncPending()` later). `nowMs`
    /// replaces the wall clock for `*` IDs (tests, replays).
    @discardableResult
    public func append(_ fields: [[UInt8]], id: AppendID = .auto, trim: TrimSpec? = nil, sync: Bool = true,
                       nowMs: UInt64? = nil) throws(SpoolError) -> StreamID {
        try Self.checkAppend(fields)
        let now = nowMs ?? StreamClock.nowMs()
        return try mutate(sync: sync) { (c) throws(SpoolError) in try c.appendKeepingReferences(fields: fields, id: id, trim: trim, nowMs: now) }
    }

    /// XADD from a task: as `append(_:id:trim:sync:nowMs:)` with `sync` true, but under policy
    /// `always` the task is suspended, not its thread, until the group commit that covers the
    /// entry has made it durable — any number of concurrent appending tasks share fdatasyncs
    /// without a thread each.
    @discardableResult
    public func append(_ fields: [[UInt8]], id: AppendID = .auto, trim: TrimSpec? = nil,
                       nowMs: UInt64? = nil) async throws(SpoolError) -> StreamID {
        try Self.checkAppend(fields)
        let now = nowMs ?? StreamClock.nowMs()
        return try await mutate { (c) throws(SpoolError) in try c.appendKeepingReferences(fields: fields, id: id, trim: trim, nowMs: now) }
    }

    /// XADD's arity: at least one field/value pair, and whole pairs.
    static func checkFieldPairs(_ fields: [[UInt8]]) throws(SpoolError) {
        guard !fields.isEmpty, fields.count % 2 == 0 else { throw SpoolError.command("ERR wrong number of arguments for 'xadd' command") }
    }

    /// XADD's argument checks, before anything changes.
    private static func checkAppend(_ fields: [[UInt8]]) throws(SpoolError) {
        try checkFieldPairs(fields)
        var total = 0
        for f in fields { total += f.count }
        if total > (1 << 30) { throw SpoolError.command("ERR Elements are too large to be stored") }
    }

    /// Appends many entries with `*` IDs in one call (one journal write per block instead of
    /// one per entry, one fdatasync under `always`): the producer-side batching Kafka clients
    /// do. Each element alternates field and value. On an error, the entries before the failing
    /// one may have been appended.
    @discardableResult
    public func append(batch: [[[UInt8]]], sync: Bool = true, nowMs: UInt64? = nil) throws(SpoolError) -> [StreamID] {
        for fields in batch { try Self.checkAppend(fields) }
        let now = nowMs ?? StreamClock.nowMs()
        return try mutate(sync: sync) { (c) throws(SpoolError) in try c.appendBatch(batch, nowMs: now) }
    }

    /// `append(batch:)` from a task: under policy `always` the task, not its thread, waits for
    /// the one fdatasync that covers the batch (shared with concurrent appenders).
    @discardableResult
    public func append(batch: [[[UInt8]]], nowMs: UInt64? = nil) async throws(SpoolError) -> [StreamID] {
        for fields in batch { try Self.checkAppend(fields) }
        let now = nowMs ?? StreamClock.nowMs()
        return try await mutate { (c) throws(SpoolError) in try c.appendBatch(batch, nowMs: now) }
    }

    /// Number of live entries (O(1)).
    public var length: Int { core.withLock { $0?.length ?? 0 } }

    /// The counters: last-generated ID, entries-added, max-deleted-entry-ID.
    public var lastGeneratedID: StreamID { core.withLock { $0?.meta.lastID ?? .zero } }

    func snapshot() throws(SpoolError) -> StreamSnapshot {
        try core.withLock { (c) throws(SpoolError) in
            guard c != nil else { throw SpoolError.closed("stream was deleted or its store closed") }
            try Self.heal(&c)
            return c!.snapshot
        }
    }

    /// XRANGE: live entries with `start ≤ id ≤ end`, ascending, at most `count` (nil = all).
    public func range(from start: StreamID = .zero, to end: StreamID = .max, count: Int? = nil) throws(SpoolError) -> [StreamEntry] {
        try StreamReader(snapshot()).range(from: start, to: end, count: count, reverse: false)
    }

    /// XREVRANGE: live entries with `start ≤ id ≤ end`, descending, at most `count`.
    public func reverseRange(from end: StreamID = .max, to start: StreamID = .zero, count: Int? = nil) throws(SpoolError) -> [StreamEntry] {
        try StreamReader(snapshot()).range(from: start, to: end, count: count, reverse: true)
    }

    /// Visits live entries in `[start, end]` ascending without collecting them; `body` returns
    /// false to stop. Each call sees one consistent snapshot.
    public func scan(from start: StreamID = .zero, to end: StreamID = .max, _ body: (StreamEntry) -> Bool) throws(SpoolError) {
        try StreamReader(snapshot()).visit(from: start, to: end, reverse: false, body)
    }

    /// XDEL: deletes the live entries among `ids`; returns how many were deleted.
    @discardableResult
    public func delete(_ ids: [StreamID], sync: Bool = true) throws(SpoolError) -> Int {
        try mutate(sync: sync) { (c) throws(SpoolError) in try c.delete(ids) }
    }

    /// XTRIM: returns the number of entries removed.
    @discardableResult
    public func trim(_ spec: TrimSpec, sync: Bool = true) throws(SpoolError) -> Int {
        try mutate(sync: sync) { (c) throws(SpoolError) in try c.trim(spec) }
    }

    /// XSETID with Redis's checks and error texts.
    public func setID(_ lastID: StreamID, entriesAdded: UInt64? = nil, maxDeletedID: StreamID? = nil, sync: Bool = true) throws(SpoolError) {
        if let md = maxDeletedID, lastID < md {
            throw SpoolError.command("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
        }
        try mutate(sync: sync) { (c) throws(SpoolError) in
            if lastID < c.meta.maxDeletedID {
                throw SpoolError.command("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
            }
            if c.length > 0, let top = try c.lastLiveID(), lastID < top {
                throw SpoolError.command("ERR The ID specified in XSETID is smaller than the target stream top item")
            }
            if let ea = entriesAdded, ea < UInt64(c.length) {
                throw SpoolError.command("ERR The entries_added specified in XSETID is smaller than the target stream length")
            }
            var m = c.meta
            m.lastID = lastID
            if let ea = entriesAdded { m.entriesAdded = ea }
            if let md = maxDeletedID, md != .zero { m.maxDeletedID = md }
            return ((), try c.setMeta(m))
        }
    }

    /// XINFO STREAM's facts.
    public func info() throws(SpoolError) -> StreamInfo {
        let (snap, meta, length, segs, blocks, nodes, mem) = try core.withLock { (c) throws(SpoolError) in
            guard let c else { throw SpoolError.closed("stream was deleted or its store closed") }
            return (c.snapshot, c.meta, c.length, c.segments.count, c.index.count + (c.open.entries.isEmpty ? 0 : 1),
                    c.index.nodeCount + (c.open.entries.isEmpty ? 0 : 1), c.index.memoryFootprint)
        }
        let reader = StreamReader(snap)
        let first = try reader.range(from: .zero, to: .max, count: 1, reverse: false).first
        let last = try reader.range(from: .zero, to: .max, count: 1, reverse: true).first
        var disk: Int64 = 0
        for s in snap.segments.values where s.hasFile { disk += s.size }
        return StreamInfo(length: length, blocks: blocks, radixTreeNodes: nodes, lastGeneratedID: meta.lastID,
                          maxDeletedEntryID: meta.maxDeletedID, entriesAdded: meta.entriesAdded,
                          recordedFirstEntryID: first?.id ?? .zero, firstEntry: first, lastEntry: last,
                          segments: segs, diskBytes: disk, indexBytes: mem)
    }

    /// Waits until every mutation made so far is on disk (fdatasync of the store journal, which
    /// holds the stream's group records too).
    public func syncPending() throws(SpoolError) {
        do { try journal.syncAll() } catch { throw error.spool }
    }

    /// Writes journal records kept in memory under `deferJournalWrites` (no fdatasync): the
    /// store journal's buffer, which holds every stream's.
    public func flushPending() throws(SpoolError) {
        do { try journal.flush() } catch { throw error.spool }
    }

    /// Writes a checkpoint now: the stream's, and its groups' when it has any (the store journal
    /// files before them are then no longer needed for this stream).
    public func checkpoint() throws(SpoolError) {
        try core.withLock { (c) throws(SpoolError) in
            guard c != nil else { return }
            try c!.checkpoint()
            if c!.groupsPosition != nil { try c!.writeGroupCheckpoint() }
        }
    }

    /// Closes the stream's files (after a final sync).
    func close(sync: Bool) {
        core.withLock { c in
            if var cc = c {
                try? cc.flushPending()
                if sync { try? cc.active.sync() }
                // Seen-times of polls that delivered nothing are only in memory: a clean close
                // keeps them (Redis keeps them across a restart through its RDB).
                if sync, cc.groupSeenChanged { try? cc.writeGroupCheckpoint() }
            }
            c = nil
        }
    }
}

/// Wall-clock milliseconds for auto IDs (Redis's `mstime()`); IDs stay monotonic because XADD
/// never goes below the last ID's ms.
public enum StreamClock {
    /// Milliseconds since the Unix epoch.
    public static func nowMs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
