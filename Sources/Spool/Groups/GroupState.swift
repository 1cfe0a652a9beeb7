import Logging
import SpoolFormat
import SpoolIndex
import SpoolIO

/// One pending record: 24 bytes, kept in the group's radix tree keyed by entry ID.
struct PendingRecord: Sendable, Equatable {
    /// Last delivery time, Unix ms.
    var deliveryTime: UInt64
    var deliveryCount: UInt64
    /// The owning consumer's number in `ConsumerGroup.consumers`.
    var consumer: UInt32
}

struct ConsumerState: Sendable {
    var name: [UInt8]
    var seenTime: UInt64
    var activeTime: UInt64?
    /// Pending records owned (the group PEL is the only index: history reads filter it).
    var pending = 0
}

/// One consumer group. The PEL is one ordered map for the whole group; per-consumer views are
/// filters over it (a second tree per consumer would double the memory per pending entry).
struct ConsumerGroup: Sendable {
    var name: [UInt8]
    var lastID: StreamID
    var entriesRead: UInt64?
    var pel = RadixTree<PendingRecord>()
    var consumers: [UInt32: ConsumerState] = [:]
    var consumerNumbers: [[UInt8]: UInt32] = [:]
    var nextConsumer: UInt32 = 1
    var maxDeliveries: UInt64 = 0
    var deadLetterStream: [UInt8] = []
    var deadLettered: UInt64 = 0

    init(name: [UInt8], cursor: GroupJournalFormat.Cursor) {
        self.name = name
        self.lastID = cursor.lastID
        self.entriesRead = cursor.entriesRead
    }

    var cursor: GroupJournalFormat.Cursor { .init(lastID: lastID, entriesRead: entriesRead) }

    /// The consumer's number, creating it (seen now, never active) when missing.
    mutating func consumer(_ name: [UInt8], seen: UInt64) -> UInt32 {
        if let n = consumerNumbers[name] { return n }
        let n = nextConsumer
        nextConsumer += 1
        consumerNumbers[name] = n
        consumers[n] = ConsumerState(name: name, seenTime: seen, activeTime: nil)
        return n
    }

    /// Sets (inserting or moving) one pending record.
    mutating func setPending(_ id: StreamID, _ record: PendingRecord) {
        if let old = pel.updateValue(record, forKey: id) {
            consumers[old.consumer]?.pending -= 1
        }
        consumers[record.consumer]?.pending += 1
    }

    /// Removes one pending record; returns whether it existed.
    @discardableResult
    mutating func removePending(_ id: StreamID) -> Bool {
        guard let old = pel.removeValue(forKey: id) else { return false }
        consumers[old.consumer]?.pending -= 1
        return true
    }

    mutating func deleteConsumer(_ name: [UInt8]) -> Int {
        guard let n = consumerNumbers.removeValue(forKey: name) else { return 0 }
        let dropped = consumers.removeValue(forKey: n)?.pending ?? 0
        if dropped > 0 {
            var ids: [StreamID] = []
            ids.reserveCapacity(dropped)
            pel.forEach(from: .zero) { id, r in
                if r.consumer == n { ids.append(id) }
                return ids.count < dropped
            }
            for id in ids { _ = pel.removeValue(forKey: id) }
        }
        return dropped
    }
}

/// All groups of one stream and their sidecar files. Lives inside `StreamCore`, under its lock.
struct GroupSet: Sendable {
    var groups: [[UInt8]: ConsumerGroup] = [:]
    /// The group journal; nil until the stream's first group is created.
    var journal: AppendFile? = nil
    var generation: UInt64 = 0
    /// A consumer's seen-time changed without a journal record (a read that delivered
    /// nothing): the next checkpoint — at the latest the one a clean close writes — keeps it.
    var seenChanged = false
    /// How the group journal reserves space (`StoreOptions.journalReservation`).
    var reservation: AppendFile.Reservation = .none

    // MARK: Applying records (live and in recovery: one code path)

    mutating func apply(_ record: GroupJournalFormat.Record) {
        switch record {
        case .createGroup(let name, let cursor):
            if groups[name] == nil { groups[name] = ConsumerGroup(name: name, cursor: cursor) }
        case .destroyGroup(let name):
            groups.removeValue(forKey: name)
        case .setCursor(let name, let cursor):
            groups[name]?.lastID = cursor.lastID
            groups[name]?.entriesRead = cursor.entriesRead
        case .createConsumer(let name, let consumer, let seen):
            guard groups[name] != nil else { return }
            let n = groups[name]!.consumer(consumer, seen: seen)
            groups[name]!.consumers[n]!.seenTime = seen
        case .deleteConsumer(let name, let consumer):
            _ = groups[name]?.deleteConsumer(consumer)
        case .deliver(let d):
            guard groups[d.group] != nil else { return }
            groups[d.group]!.applyDelivery(d)
        case .ack(let name, let ids):
            // One lookup of the group per record, not per ID (a name hashes byte by byte).
            guard let i = groups.index(forKey: name) else { return }
            for id in ids { groups.values[i].removePending(id) }
        case .deadLettered(let name, let ids):
            guard let i = groups.index(forKey: name) else { return }
            for id in ids where groups.values[i].removePending(id) { groups.values[i].deadLettered += 1 }
        case .deadLetterConfig(let name, let max, let stream):
            groups[name]?.maxDeliveries = max
            groups[name]?.deadLetterStream = stream
        case .dropReferences(let ids):
            for i in groups.indices {
                for id in ids { groups.values[i].removePending(id) }
            }
        }
    }

    // MARK: Files

    /// No groups, no files.
    init() {}

    /// The groups of a checkpoint, before any journal record.
    init(checkpoint cp: GroupCheckpoint) {
        for g in cp.groups {
            var group = ConsumerGroup(name: g.name, cursor: g.cursor)
            group.maxDeliveries = g.maxDeliveries
            group.deadLetterStream = g.deadLetterStream
            group.deadLettered = g.deadLettered
            var numbers: [UInt32] = []
            for c in g.consumers {
                let n = group.consumer(c.name, seen: c.seenTime)
                group.consumers[n]!.activeTime = c.activeTime
                numbers.append(n)
            }
            var counts = [Int](repeating: 0, count: numbers.count)
            group.pel = RadixTree(sortedUniqueElements: g.pending.lazy.map { p in
                counts[p.consumer] += 1
                return (p.id, PendingRecord(deliveryTime: p.deliveryTime, deliveryCount: p.deliveryCount, consumer: numbers[p.consumer]))
            })
            // A name listed twice (a damaged checkpoint: fsck reports it) is one consumer with
            // the pending entries of both.
            for (i, n) in numbers.enumerated() { group.consumers[n]!.pending += counts[i] }
            groups[g.name] = group
        }
        generation = cp.journalGeneration
    }

    /// Loads `groups` and replays the journal of its generation (`GroupFiles.read`), then acts
    /// on what it found: removes group journals of other generations (all of them when there is
    /// no checkpoint), cuts the journal at its first torn or damaged record, starts it anew when
    /// its header is damaged. No files: no groups. A damaged checkpoint is an error.
    static func load(directory: String, reservation: AppendFile.Reservation, logger: Logger) throws(SpoolError) -> GroupSet {
        let files = GroupFiles.read(directory: directory)
        switch files.checkpoint {
        case .absent:
            for name in files.otherJournals {
                logger.info("removing group journal without a checkpoint", metadata: ["file": "\(directory)/\(name)"])
                try? FileSystem.removeFile(directory + "/" + name)
            }
            var empty = GroupSet()
            empty.reservation = reservation
            return empty
        case .damaged(let e): throw e.spool
        case .unreadable(let e): throw e.spool
        case .decoded: break
        }
        if let e = files.journalError { throw e.spool }
        for name in files.otherJournals {
            logger.info("removing superseded group journal", metadata: ["file": "\(directory)/\(name)"])
            try? FileSystem.removeFile(directory + "/" + name)
        }
        var set = files.set
        set.reservation = reservation
        let path = directory + "/" + files.journalName!
        do {
            if let scan = files.journal, scan.headerError == nil {
                if let t = scan.tail {
                    let cut = scan.fileSize - scan.validEnd
                    if scan.tailIsTorn {
                        logger.warning("cut torn tail of group journal", metadata: ["file": "\(path)", "offset": "\(scan.validEnd)", "bytes": "\(cut)"])
                    } else {
                        logger.warning("cut group journal at damaged record", metadata: ["file": "\(path)", "offset": "\(scan.validEnd)", "bytes": "\(cut)", "reason": "\(t.reason)"])
                    }
                }
                let file = try AppendFile(creating: path, truncate: false)
                // Also drops reserved space (stale bytes past a torn record must never be read
                // as records once new ones reach them); it is reserved again, zeroed.
                if Int64(scan.validEnd) < file.size { try file.truncate(to: Int64(scan.validEnd)); try file.sync() }
                file.reserveJournalSpaceAtOpen(set.reservation, logger: logger)
                set.journal = file
            } else {
                if let scan = files.journal, scan.fileSize > 0 {
                    logger.warning("group journal header damaged; starting it anew", metadata: ["file": "\(path)", "bytes": "\(scan.fileSize)"])
                }
                let file = try AppendFile.createJournal(at: path, initial: GroupJournalFormat.encodeHeader(generation: set.generation),
                                                        reservation: .none)
                file.reserveJournalSpaceAtOpen(set.reservation, logger: logger)
                set.journal = file
            }
        } catch { throw error.spool }
        return set
    }

    /// Reconciles the groups with a stream whose last-generated ID is `lastID` (FORMAT.md §8.3):
    /// pending records beyond it (entries lost with a torn stream tail) are dropped, and then a
    /// cursor beyond it moves back to it (entries-read becomes invalid). A cursor beyond the
    /// stream with no such pending record is kept: XGROUP CREATE / SETID may put it there, as
    /// Redis allows. Returns what changed.
    mutating func reconcile(lastID last: StreamID) -> [GroupReconciliation] {
        var changes: [GroupReconciliation] = []
        for name in groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var change = GroupReconciliation(group: name, cursorMovedFrom: nil, droppedPending: [])
            if let succ = last.successor {
                groups[name]!.pel.forEach(from: succ) { id, _ in change.droppedPending.append(id); return true }
            }
            for id in change.droppedPending { groups[name]!.removePending(id) }
            if !change.droppedPending.isEmpty && groups[name]!.lastID > last {
                change.cursorMovedFrom = groups[name]!.lastID
                groups[name]!.lastID = last
                groups[name]!.entriesRead = nil
            }
            if change.cursorMovedFrom != nil || !change.droppedPending.isEmpty { changes.append(change) }
        }
        return changes
    }

    /// Creates the files for the first group: checkpoint (no groups) first, then the journal, so
    /// a crash in between leaves a checkpoint whose journal is simply empty.
    mutating func createFiles(directory: String) throws(SpoolError) {
        do {
            let gen = generation + 1
            try FileSystem.writeAtomically(directory + "/" + GroupCheckpoint.fileName, snapshot(generation: gen).encode())
            journal = try newJournal(directory: directory, generation: gen)
            generation = gen
        } catch { throw error.spool }
    }

    /// A new, empty group journal of generation `generation`, its space reserved, synced.
    func newJournal(directory: String, generation: UInt64) throws(IOError) -> AppendFile {
        try AppendFile.createJournal(at: directory + "/" + GroupJournalFormat.fileName(generation),
                                     initial: GroupJournalFormat.encodeHeader(generation: generation), reservation: reservation)
    }

    /// Writes a checkpoint of the current state and starts a new journal generation.
    mutating func checkpoint(directory: String) throws(SpoolError) {
        guard let old = journal else { return }
        do {
            try old.sync()
            let gen = generation + 1
            let file = try newJournal(directory: directory, generation: gen)
            try FileSystem.writeAtomically(directory + "/" + GroupCheckpoint.fileName, snapshot(generation: gen).encode())
            old.close()
            journal = file
            generation = gen
            seenChanged = false
            try FileSystem.removeFile(old.path)
        } catch { throw error.spool }
    }

    /// The state as a checkpoint value (groups by name, PELs ascending).
    func snapshot(generation: UInt64) -> GroupCheckpoint {
        var out: [GroupCheckpoint.Group] = []
        for name in groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let g = groups[name]!
            var index: [UInt32: Int] = [:]
            var consumers: [GroupCheckpoint.Consumer] = []
            for (n, c) in g.consumers.sorted(by: { $0.value.name.lexicographicallyPrecedes($1.value.name) }) {
                index[n] = consumers.count
                consumers.append(.init(name: c.name, seenTime: c.seenTime, activeTime: c.activeTime))
            }
            var pending: [GroupCheckpoint.Pending] = []
            pending.reserveCapacity(g.pel.count)
            g.pel.forEach(from: .zero) { id, r in
                pending.append(.init(id: id, consumer: index[r.consumer]!, deliveryTime: r.deliveryTime, deliveryCount: r.deliveryCount))
                return true
            }
            out.append(.init(name: name, cursor: g.cursor, maxDeliveries: g.maxDeliveries, deadLetterStream: g.deadLetterStream,
                             deadLettered: g.deadLettered, consumers: consumers, pending: pending))
        }
        return GroupCheckpoint(journalGeneration: generation, groups: out)
    }
}

extension ConsumerGroup {
    mutating func applyDelivery(_ d: GroupJournalFormat.Delivery) {
        let n = consumer(d.consumer, seen: d.seenMs)
        consumers[n]!.seenTime = d.seenMs
        if let a = d.activeMs { consumers[n]!.activeTime = a }
        if let c = d.cursor {
            lastID = c.lastID
            entriesRead = c.entriesRead
        }
        for item in d.items {
            setPending(item.id, PendingRecord(deliveryTime: d.timeMs, deliveryCount: item.count, consumer: n))
        }
    }
}
