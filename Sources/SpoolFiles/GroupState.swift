public import SpoolFormat
public import SpoolIndex

/// One pending record: 24 bytes, kept in the group's radix tree keyed by entry ID.
public struct PendingRecord: Sendable, Equatable {
    /// Last delivery time, Unix ms.
    public var deliveryTime: UInt64
    /// Deliveries so far.
    public var deliveryCount: UInt64
    /// The owning consumer's number in `ConsumerGroup.consumers`.
    public var consumer: UInt32

    public init(deliveryTime: UInt64, deliveryCount: UInt64, consumer: UInt32) {
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
        self.consumer = consumer
    }
}

public struct ConsumerState: Sendable {
    /// Name.
    public var name: [UInt8]
    /// Last seen, Unix ms.
    public var seenTime: UInt64
    /// Last read that gave it pending entries, Unix ms; nil when never.
    public var activeTime: UInt64?
    /// Pending records owned (the group PEL is the only index: history reads filter it).
    public var pending = 0

    public init(name: [UInt8], seenTime: UInt64, activeTime: UInt64?) {
        self.name = name
        self.seenTime = seenTime
        self.activeTime = activeTime
    }
}

/// One consumer group. The PEL is one ordered map for the whole group; per-consumer views are
/// filters over it (a second tree per consumer would double the memory per pending entry).
public struct ConsumerGroup: Sendable {
    /// Name.
    public var name: [UInt8]
    /// Last-delivered ID (the cursor).
    public var lastID: StreamID
    /// Entries-read counter, nil when invalid (reference §6.1).
    public var entriesRead: UInt64?
    /// Pending entries of the whole group by entry ID.
    public var pel = RadixTree<PendingRecord>()
    /// Consumers by number (numbers are never reused within a group's life in memory).
    public var consumers: [UInt32: ConsumerState] = [:]
    /// Consumer numbers by name.
    public var consumerNumbers: [[UInt8]: UInt32] = [:]
    /// The number the next consumer gets.
    public var nextConsumer: UInt32 = 1
    /// Dead-lettering: deliveries after which an entry moves to `deadLetterStream` (0: off).
    public var maxDeliveries: UInt64 = 0
    /// Dead-lettering: the stream entries move to.
    public var deadLetterStream: [UInt8] = []
    /// Entries dead-lettered so far.
    public var deadLettered: UInt64 = 0

    public init(name: [UInt8], cursor: GroupJournalFormat.Cursor) {
        self.name = name
        self.lastID = cursor.lastID
        self.entriesRead = cursor.entriesRead
    }

    public var cursor: GroupJournalFormat.Cursor { .init(lastID: lastID, entriesRead: entriesRead) }

    /// The consumer's number, creating it (seen now, never active) when missing.
    public mutating func consumer(_ name: [UInt8], seen: UInt64) -> UInt32 {
        if let n = consumerNumbers[name] { return n }
        let n = nextConsumer
        nextConsumer += 1
        consumerNumbers[name] = n
        consumers[n] = ConsumerState(name: name, seenTime: seen, activeTime: nil)
        return n
    }

    /// Sets (inserting or moving) one pending record.
    public mutating func setPending(_ id: StreamID, _ record: PendingRecord) {
        if let old = pel.updateValue(record, forKey: id) {
            consumers[old.consumer]?.pending -= 1
        }
        consumers[record.consumer]?.pending += 1
    }

    /// Removes one pending record; returns whether it existed.
    @discardableResult
    public mutating func removePending(_ id: StreamID) -> Bool {
        guard let old = pel.removeValue(forKey: id) else { return false }
        consumers[old.consumer]?.pending -= 1
        return true
    }

    public mutating func deleteConsumer(_ name: [UInt8]) -> Int {
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

/// All groups of one stream as their files fold (FORMAT.md §8): a checkpoint, then group
/// journal records applied one by one. The engine applies every record it writes through
/// `apply` too (live and in recovery: one code path), and `GroupFiles` folds the files the same
/// way for the tools.
public struct StreamGroups: Sendable {
    /// The groups by name.
    public var groups: [[UInt8]: ConsumerGroup] = [:]
    /// The generation of the checkpoint (and of the journal it names).
    public var generation: UInt64 = 0

    // MARK: Applying records (live and in recovery: one code path)

    public mutating func apply(_ record: GroupJournalFormat.Record) {
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

    /// No groups.
    public init() {}

    /// The groups of a checkpoint, before any journal record.
    public init(checkpoint cp: GroupCheckpoint) {
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

    /// Reconciles the groups with a stream whose last-generated ID is `lastID` (FORMAT.md §8.3):
    /// pending records beyond it (entries lost with a torn stream tail) are dropped, and then a
    /// cursor beyond it moves back to it (entries-read becomes invalid). A cursor beyond the
    /// stream with no such pending record is kept: XGROUP CREATE / SETID may put it there, as
    /// Redis allows. Returns what changed.
    public mutating func reconcile(lastID last: StreamID) -> [GroupReconciliation] {
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

    /// The state as a checkpoint value (groups by name, PELs ascending).
    public func snapshot(generation: UInt64) -> GroupCheckpoint {
        GroupCheckpoint(journalGeneration: generation, groups: checkpointGroups())
    }

    /// The groups as a checkpoint whose records continue at `position` of the store journal.
    public func snapshot(position: JournalPosition) -> GroupCheckpoint {
        GroupCheckpoint(position: position, groups: checkpointGroups())
    }

    /// The groups as a checkpoint lists them: by name, consumers by name, pending ascending.
    func checkpointGroups() -> [GroupCheckpoint.Group] {
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
        return out
    }
}

extension ConsumerGroup {
    /// Applies a DELIVER record: the consumer is seen (and active when the record says so), the
    /// cursor moves, the items become pending with this consumer.
    public mutating func applyDelivery(_ d: GroupJournalFormat.Delivery) {
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

extension StreamGroups {
    /// Every invariant of the group state that does not hold, described: consumer numbers and
    /// names are one-to-one, every pending record's owner exists, each consumer's pending count
    /// is the number of records it owns, each PEL tree is sound. O(pending records).
    public func invariantViolations() -> [String] {
        var v: [String] = []
        for (name, g) in groups {
            let label = String(decoding: name, as: UTF8.self)
            if g.name != name { v.append("group \(label) is named \(String(decoding: g.name, as: UTF8.self))") }
            if g.consumerNumbers.count != g.consumers.count { v.append("\(label): \(g.consumerNumbers.count) names, \(g.consumers.count) consumers") }
            for (cname, n) in g.consumerNumbers where g.consumers[n]?.name != cname { v.append("\(label): consumer number \(n) is not its name's") }
            if let top = g.consumers.keys.max(), top >= g.nextConsumer { v.append("\(label): consumer \(top) at or past nextConsumer \(g.nextConsumer)") }
            var owned: [UInt32: Int] = [:]
            g.pel.forEach(from: .zero) { _, r in owned[r.consumer, default: 0] += 1; return true }
            for (n, count) in owned where g.consumers[n] == nil { v.append("\(label): \(count) pending records of missing consumer \(n)") }
            for (n, c) in g.consumers where c.pending != owned[n, default: 0] {
                v.append("\(label): consumer \(String(decoding: c.name, as: UTF8.self)) counts \(c.pending) pending, owns \(owned[n, default: 0])")
            }
            do { try g.pel._checkInvariants() } catch { v.append("\(label) PEL: \(error)") }
        }
        return v
    }
}
