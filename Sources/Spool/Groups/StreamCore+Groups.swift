import Logging
import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// Which NOGROUP text a command uses (reference §4).
public enum NoGroupText: Sendable {
    /// XREADGROUP's: "No such key 'k' or consumer group 'g' in XREADGROUP with GROUP option".
    case readGroup
    /// XACK-family, XPENDING, XCLAIM, XAUTOCLAIM: "No such key 'k' or consumer group 'g'".
    case keyOrGroup
    /// XGROUP's: "No such consumer group 'g' for key name 'k'".
    case consumerGroup

    func error(key: [UInt8], group: [UInt8]) -> SpoolError {
        // As Redis prints them (`%s`): up to the first NUL byte.
        let k = String(decoding: key.prefix(while: { $0 != 0 }), as: UTF8.self)
        let g = String(decoding: group.prefix(while: { $0 != 0 }), as: UTF8.self)
        switch self {
        case .readGroup: return .command("NOGROUP No such key '\(k)' or consumer group '\(g)' in XREADGROUP with GROUP option")
        case .keyOrGroup: return .command("NOGROUP No such key '\(k)' or consumer group '\(g)'")
        case .consumerGroup: return .command("NOGROUP No such consumer group '\(g)' for key name '\(k)'")
        }
    }
}

/// Store journal ends an operation's result depends on: of the stream's records and of its
/// groups' (GROUP records); the later one is synced.
struct DurabilityEnds {
    var stream: Int64? = nil
    var groups: Int64? = nil
}

/// Where dead-lettered entries go, resolved before the source stream is locked.
enum DeadLetterTarget {
    case none
    case same
    case other(SpoolStream)
}

/// An entry about to be dead-lettered.
struct DeadLetterCandidate {
    var entry: StreamEntry
    var consumer: [UInt8]
    var deliveries: UInt64
}

/// Thrown inside a group operation when the dead-letter stream is busy or changed; the caller
/// releases the lock and starts over. Nothing was changed when it is thrown.
let deadLetterRetry = SpoolError.closed("\u{0}spool: retry dead-lettering")

/// Looks up entries by ID in a snapshot, decoding each sealed block at most once per batch.
struct EntryFetcher {
    let snap: StreamSnapshot
    private var cachedFirst: StreamID? = nil
    private var cached: [StreamEntry] = []

    init(_ snap: StreamSnapshot) { self.snap = snap }

    private static func search(_ entries: [StreamEntry], _ id: StreamID) -> Int? {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < entries.count && entries[lo].id == id ? lo : nil
    }

    /// The live entry `id`, or nil.
    mutating func entry(_ id: StreamID) throws(SpoolError) -> StreamEntry? {
        let open = snap.open
        if let f = open.entries.first?.id, id >= f {
            guard let i = Self.search(open.entries, id), !open.deleted.contains(id) else { return nil }
            return open.entries[i]
        }
        guard let (first, info) = snap.index.floor(id), id <= info.lastID else { return nil }
        if info.deleted > 0, snap.blockTombstones[first]?.contains(id) == true { return nil }
        if cachedFirst != first {
            cached = try StreamCore.readBlock(info, first: first, segments: snap.segments)
            cachedFirst = first
        }
        guard let i = Self.search(cached, id) else { return nil }
        return cached[i]
    }
}

extension StreamCore {
    // MARK: Files and recovery

    /// Loads the group files and reconciles them with the stream (called at open). Pending
    /// records and cursors beyond the stream's last ID (a torn stream tail) are dropped and
    /// logged, and the result is checkpointed so later appends cannot revive them.
    mutating func loadGroups(records: StoreRecords?) throws(SpoolError) {
        try openGroupFiles(records: records)
        let changes = groups.reconcile(lastID: referenceTop)
        for c in changes {
            let group = String(decoding: c.group, as: UTF8.self)
            if let from = c.cursorMovedFrom {
                logger.warning("group cursor beyond the stream's last ID; moved back", metadata: [
                    "directory": "\(directory)", "group": "\(group)", "cursor": "\(from)", "last-id": "\(meta.lastID)"])
            }
            if let first = c.droppedPending.first {
                logger.warning("dropped pending entries beyond the stream's last ID (torn stream tail)", metadata: [
                    "directory": "\(directory)", "group": "\(group)", "count": "\(c.droppedPending.count)", "first": "\(first)"])
            }
        }
        if !changes.isEmpty { try writeGroupCheckpoint() }
    }

    /// Logs `record` to the store journal as a GROUP record (after a first group checkpoint
    /// when the stream has none), then applies it.
    mutating func commitGroup(_ record: GroupJournalFormat.Record) throws(SpoolError) -> Int64 {
        if groupsPosition == nil { try createGroupFiles() }
        let end = try logGroup(record)
        groups.apply(record)
        return end
    }

    // MARK: §6.1 counters

    /// `recorded-first-entry-id`.
    func recordedFirstID() throws(SpoolError) -> StreamID { try firstLiveID() ?? .zero }

    /// Redis's `streamRangeHasTombstones(s, start, NULL)`.
    func hasTombstones(from start: StreamID, firstID: StreamID) -> Bool {
        let md = meta.maxDeletedID
        guard length > 0, md != .zero else { return false }
        if firstID > md { return false }
        return start <= md
    }

    /// Reference §6.1 `estimate(id)`; nil = unknown.
    func estimateEntriesRead(_ id: StreamID, firstID: StreamID) -> UInt64? {
        if meta.entriesAdded == 0 { return 0 }
        if length == 0 && id <= meta.lastID { return meta.entriesAdded }
        if id != .zero && id < meta.maxDeletedID { return nil }
        if id == meta.lastID { return meta.entriesAdded }
        if id > meta.lastID { return nil }
        if meta.maxDeletedID == .zero || meta.maxDeletedID < firstID {
            if id < firstID { return meta.entriesAdded &- UInt64(length) }
            if id == firstID { return meta.entriesAdded &- UInt64(length) &+ 1 }
        }
        return nil
    }

    /// Reference §6.1 lag; nil = unknown. Entries-added minus entries-read as Redis's signed
    /// `long long` difference: negative when entries-read has passed entries-added.
    func lag(of g: ConsumerGroup, firstID: StreamID) -> Int64? {
        if meta.entriesAdded == 0 || length == 0 { return 0 }
        if g.lastID < firstID && meta.maxDeletedID < firstID { return Int64(length) }
        if let er = g.entriesRead, meta.maxDeletedID == .zero || meta.maxDeletedID < g.lastID {
            return Int64(bitPattern: meta.entriesAdded &- er)
        }
        if let est = estimateEntriesRead(g.lastID, firstID: firstID) {
            return Int64(bitPattern: meta.entriesAdded &- est)
        }
        return nil
    }

    /// The cursor after a `>` delivery of `id` (reference §6.1).
    func advance(_ cursor: GroupJournalFormat.Cursor, to id: StreamID, firstID: StreamID) -> GroupJournalFormat.Cursor {
        var c = cursor
        if let er = c.entriesRead, c.lastID >= firstID, !hasTombstones(from: c.lastID, firstID: firstID) {
            c.entriesRead = er &+ 1
        } else if meta.entriesAdded > 0 {
            c.entriesRead = estimateEntriesRead(id, firstID: firstID)
        }
        c.lastID = id
        return c
    }

    /// Whether any group still needs `id` (ACKED): pending somewhere, or not yet delivered to
    /// some group.
    func isReferenced(_ id: StreamID) -> Bool {
        for g in groups.groups.values {
            if id > g.lastID || g.pel[id] != nil { return true }
        }
        return false
    }

    // MARK: Dead-lettering

    /// Appends the candidates to the dead-letter stream (made durable before returning unless
    /// the policy is `no`), then acknowledges them in the group in one journal record. A crash
    /// between the two leaves the entries pending: they are dead-lettered again later (at least
    /// once, never lost). Throws `deadLetterRetry` before changing anything when the target is
    /// busy or no longer the configured one.
    mutating func deadLetter(_ items: [DeadLetterCandidate], key: [UInt8], group: [UInt8], target: DeadLetterTarget,
                             nowMs: UInt64, ends: inout DurabilityEnds) throws(SpoolError) -> [StreamID] {
        guard !items.isEmpty, let want = groups.groups[group]?.deadLetterStream else { return [] }
        func fields(_ c: DeadLetterCandidate) -> [[UInt8]] {
            c.entry.fields + [
                Array("spool-source-stream".utf8), key,
                Array("spool-source-id".utf8), c.entry.id.bytes,
                Array("spool-group".utf8), group,
                Array("spool-consumer".utf8), c.consumer,
                Array("spool-deliveries".utf8), Array(String(c.deliveries).utf8),
            ]
        }
        switch target {
        case .none:
            throw deadLetterRetry
        case .same:
            guard want == key else { throw deadLetterRetry }
            var end: Int64 = 0
            for c in items { end = try append(fields: fields(c), id: .auto, nowMs: nowMs).1 }
            try flushPending()  // the dead-letter copy is written before the acknowledgement
            // The store journal's group commit takes no stream's lock: waiting here is safe.
            if options.fsync != .no { do { try journal.syncCovering(end) } catch { throw error.spool } }
            ends.stream = end
        case .other(let s):
            guard s.name == want else { throw deadLetterRetry }
            let done: Result<Int64, SpoolError>? = s.core.withLockIfAvailable { c in
                guard c != nil else { return .failure(deadLetterRetry) }
                do throws(SpoolError) {
                    var end: Int64 = 0
                    for item in items { end = try c!.append(fields: fields(item), id: .auto, nowMs: nowMs).1 }
                    try c!.flushPending()
                    return .success(end)
                } catch {
                    return .failure(error)
                }
            }
            guard let done else { throw deadLetterRetry }
            let end = try done.get()
            // The store journal's group commit, which takes no stream's lock.
            if options.fsync != .no { do { try journal.syncCovering(end) } catch { throw error.spool } }
        }
        let ids = items.map(\.entry.id)
        ends.groups = try commitGroup(.deadLettered(group: group, ids: ids))
        return ids
    }

    /// Whether a delivery of a record with `count` deliveries so far must dead-letter instead.
    func mustDeadLetter(_ g: ConsumerGroup, count: UInt64) -> Bool {
        g.maxDeliveries > 0 && !g.deadLetterStream.isEmpty && count >= g.maxDeliveries
    }
}
