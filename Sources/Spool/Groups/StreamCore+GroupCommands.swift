import SpoolFiles
import SpoolFormat
import SpoolIndex
import SpoolIO

/// The group commands on one stream, under its lock. Each first plans without changing
/// anything (so a dead-letter retry or an error leaves no trace), then dead-letters, then
/// commits journal records through `commitGroup`, which applies them exactly as recovery does.
extension StreamCore {
    typealias Item = GroupJournalFormat.Item
    typealias Cursor = GroupJournalFormat.Cursor

    // MARK: XGROUP

    mutating func createGroup(key: [UInt8], name: [UInt8], start: GroupStart, entriesRead: Int64?) throws(SpoolError) -> DurabilityEnds {
        let er = try Self.checkEntriesRead(entriesRead, added: meta.entriesAdded)
        guard groups.groups[name] == nil else { throw SpoolError.command("BUSYGROUP Consumer Group name already exists") }
        let id: StreamID
        switch start {
        case .lastEntry: id = meta.lastID
        case .id(let i): id = i
        }
        return DurabilityEnds(groups: try commitGroup(.createGroup(name: name, cursor: Cursor(lastID: id, entriesRead: er))))
    }

    static func checkEntriesRead(_ v: Int64?, added: UInt64) throws(SpoolError) -> UInt64? {
        guard let v else { return nil }
        try Database.checkEntriesRead(v)
        if v == -1 { return nil }
        return min(UInt64(v), added)
    }

    mutating func setGroupID(key: [UInt8], name: [UInt8], start: GroupStart, entriesRead: Int64?) throws(SpoolError) -> DurabilityEnds {
        let er = try Self.checkEntriesRead(entriesRead, added: meta.entriesAdded)
        guard groups.groups[name] != nil else { throw NoGroupText.consumerGroup.error(key: key, group: name) }
        let id: StreamID
        switch start {
        case .lastEntry: id = meta.lastID
        case .id(let i): id = i
        }
        return DurabilityEnds(groups: try commitGroup(.setCursor(group: name, cursor: Cursor(lastID: id, entriesRead: er))))
    }

    mutating func destroyGroup(name: [UInt8]) throws(SpoolError) -> (Bool, DurabilityEnds) {
        guard groups.groups[name] != nil else { return (false, DurabilityEnds()) }
        return (true, DurabilityEnds(groups: try commitGroup(.destroyGroup(name: name))))
    }

    mutating func createConsumer(key: [UInt8], group: [UInt8], consumer: [UInt8], nowMs: UInt64) throws(SpoolError) -> (Bool, DurabilityEnds) {
        guard let g = groups.groups[group] else { throw NoGroupText.consumerGroup.error(key: key, group: group) }
        if g.consumerNumbers[consumer] != nil { return (false, DurabilityEnds()) }
        return (true, DurabilityEnds(groups: try commitGroup(.createConsumer(group: group, consumer: consumer, seenMs: nowMs))))
    }

    mutating func deleteConsumer(key: [UInt8], group: [UInt8], consumer: [UInt8]) throws(SpoolError) -> (Int, DurabilityEnds) {
        guard let g = groups.groups[group] else { throw NoGroupText.consumerGroup.error(key: key, group: group) }
        guard let n = g.consumerNumbers[consumer] else { return (0, DurabilityEnds()) }
        let count = g.consumers[n]?.pending ?? 0
        return (count, DurabilityEnds(groups: try commitGroup(.deleteConsumer(group: group, consumer: consumer))))
    }

    /// Restores a consumer and some of its pending records as another server reported them
    /// (`Database.restoreConsumer`): one delivery record per distinct delivery time, none of
    /// which moves the group cursor.
    mutating func restoreConsumer(key: [UInt8], group: [UInt8], consumer: [UInt8], seenMs: UInt64, activeMs: UInt64?,
                                  pending: [RestoredPending]) throws(SpoolError) -> DurabilityEnds {
        guard groups.groups[group] != nil else { throw NoGroupText.consumerGroup.error(key: key, group: group) }
        if let beyond = pending.first(where: { $0.id > meta.lastID }) {
            throw SpoolError.command("ERR pending entry \(beyond.id) is beyond the stream's last ID \(meta.lastID)")
        }
        var byTime: [UInt64: [Item]] = [:]
        for p in pending { byTime[p.deliveryTimeMs, default: []].append(Item(p.id, p.deliveryCount)) }
        if byTime.isEmpty { byTime[seenMs] = [] }
        var end: Int64 = 0
        for (time, items) in byTime.sorted(by: { $0.key < $1.key }) {
            end = try commitGroup(.deliver(.init(group: group, consumer: consumer, seenMs: seenMs, activeMs: activeMs,
                                                 cursor: nil, timeMs: time, items: items)))
        }
        return DurabilityEnds(groups: end)
    }

    mutating func setDeadLetter(key: [UInt8], group: [UInt8], maxDeliveries: UInt64, stream: [UInt8]) throws(SpoolError) -> DurabilityEnds {
        guard groups.groups[group] != nil else { throw NoGroupText.consumerGroup.error(key: key, group: group) }
        if maxDeliveries > 0 && stream.isEmpty { throw SpoolError.command("ERR the dead-letter stream name must not be empty") }
        return DurabilityEnds(groups: try commitGroup(.deadLetterConfig(group: group, maxDeliveries: maxDeliveries, stream: maxDeliveries > 0 ? stream : [])))
    }

    // MARK: XREADGROUP

    private struct ReadPlan {
        var entries: [GroupReadEntry] = []
        var items: [Item] = []
        var cursor: Cursor? = nil
        var deadLetters: [DeadLetterCandidate] = []
        var consumerExists = false
        var delivered = false
    }

    /// `batch`: when non-nil, new entries (`>`) go into it (spans into their blocks) instead of `plan.entries`.
    private func planRead(group name: [UInt8], consumer: [UInt8], position: GroupReadPosition, count: Int?, noAck: Bool,
                          claimMinIdle: UInt64?, nowMs: UInt64, batch: inout EntryBatch?) throws(SpoolError) -> ReadPlan {
        let g = groups.groups[name]!
        var plan = ReadPlan()
        let me = g.consumerNumbers[consumer]
        plan.consumerExists = me != nil
        let limit = (count ?? 0) > 0 ? count! : Int.max
        var fetch = EntryFetcher(snapshot)
        switch position {
        case .history(let after):
            guard let me, let start = after.successor else { return plan }
            var owned: [(StreamID, PendingRecord)] = []
            g.pel.forEach(from: start) { id, r in
                if r.consumer == me { owned.append((id, r)) }
                return owned.count < limit
            }
            for (id, r) in owned {
                if let e = try fetch.entry(id) {
                    if mustDeadLetter(g, count: r.deliveryCount) {
                        plan.deadLetters.append(DeadLetterCandidate(entry: e, consumer: consumer, deliveries: r.deliveryCount))
                        continue
                    }
                    plan.entries.append(GroupReadEntry(id: id, fields: e.fields))
                    plan.items.append(Item(id, r.deliveryCount &+ 1))
                } else {
                    plan.entries.append(GroupReadEntry(id: id, fields: nil))
                }
            }
        case .new:
            if let minIdle = claimMinIdle {
                var idle: [(StreamID, PendingRecord)] = []
                g.pel.forEach(from: .zero) { id, r in
                    if nowMs &- min(nowMs, r.deliveryTime) >= minIdle { idle.append((id, r)) }
                    return true
                }
                idle.sort { $0.1.deliveryTime != $1.1.deliveryTime ? $0.1.deliveryTime < $1.1.deliveryTime : $0.0 < $1.0 }
                for (id, r) in idle {
                    if plan.entries.count >= limit { break }
                    guard let e = try fetch.entry(id) else { continue }
                    if mustDeadLetter(g, count: r.deliveryCount) {
                        let owner = g.consumers[r.consumer]?.name ?? []
                        plan.deadLetters.append(DeadLetterCandidate(entry: e, consumer: owner, deliveries: r.deliveryCount))
                        continue
                    }
                    plan.entries.append(GroupReadEntry(id: id, fields: e.fields, idleMs: nowMs &- min(nowMs, r.deliveryTime), deliveryCount: r.deliveryCount))
                    plan.items.append(Item(id, r.deliveryCount &+ 1))
                }
            }
            let remaining = limit - plan.entries.count
            if remaining > 0, let start = g.lastID.successor {
                var ids: [StreamID] = []
                if batch != nil {
                    let before = batch!.count
                    try snapshot.collect(from: start, limit: remaining, into: &batch!)
                    ids = Array(batch!.ids[before...])
                } else {
                    for e in try StreamReader(snapshot).range(from: start, to: .max, count: remaining == Int.max ? nil : remaining, reverse: false) {
                        ids.append(e.id)
                        plan.entries.append(GroupReadEntry(id: e.id, fields: e.fields))
                    }
                }
                if !ids.isEmpty {
                    let firstID = try recordedFirstID()
                    var cursor = g.cursor
                    for id in ids {
                        cursor = advance(cursor, to: id, firstID: firstID)
                        if !noAck { plan.items.append(Item(id, 1)) }
                    }
                    plan.cursor = cursor
                }
            }
            // Active-time marks a read that made the consumer own entries (as Redis 8.2: a
            // NOACK read, an empty one or a history read leaves it alone).
            plan.delivered = !plan.items.isEmpty
        }
        return plan
    }

    /// XREADGROUP on this stream. Returns nil for `>` when nothing was delivered (the key is
    /// left out of the reply); history reads always return a result.
    mutating func readGroup(key: [UInt8], group: [UInt8], consumer: [UInt8], position: GroupReadPosition, count: Int?,
                            noAck: Bool, claimMinIdle: UInt64?, nowMs: UInt64, target: DeadLetterTarget) throws(SpoolError) -> (GroupReadResult?, DurabilityEnds) {
        var none: EntryBatch? = nil
        return try readGroup(key: key, group: group, consumer: consumer, position: position, count: count, noAck: noAck,
                             claimMinIdle: claimMinIdle, nowMs: nowMs, target: target, batch: &none)
    }

    /// XREADGROUP; with a `batch`, new entries go into it and are left out of the result.
    mutating func readGroup(key: [UInt8], group: [UInt8], consumer: [UInt8], position: GroupReadPosition, count: Int?,
                            noAck: Bool, claimMinIdle: UInt64?, nowMs: UInt64, target: DeadLetterTarget,
                            batch: inout EntryBatch?) throws(SpoolError) -> (GroupReadResult?, DurabilityEnds) {
        guard groups.groups[group] != nil else { throw NoGroupText.readGroup.error(key: key, group: group) }
        let plan = try planRead(group: group, consumer: consumer, position: position, count: count, noAck: noAck,
                                claimMinIdle: claimMinIdle, nowMs: nowMs, batch: &batch)
        var ends = DurabilityEnds()
        let dead = try deadLetter(plan.deadLetters, key: key, group: group, target: target, nowMs: nowMs, ends: &ends)
        if !plan.items.isEmpty || plan.cursor != nil || plan.delivered {
            ends.groups = try commitGroup(.deliver(.init(group: group, consumer: consumer, seenMs: nowMs, activeMs: plan.delivered ? nowMs : nil,
                                                         cursor: plan.cursor, timeMs: nowMs, items: plan.items)))
        } else if !plan.consumerExists {
            ends.groups = try commitGroup(.createConsumer(group: group, consumer: consumer, seenMs: nowMs))
        } else {
            touch(group: group, consumer: consumer, nowMs: nowMs)
        }
        if case .new = position, plan.entries.isEmpty { return (dead.isEmpty ? nil : GroupReadResult(key: key, entries: [], deadLettered: dead), ends) }
        return (GroupReadResult(key: key, entries: plan.entries, deadLettered: dead), ends)
    }

    /// Seen-time changes that are not worth a journal record of their own (a poll that
    /// delivered nothing): kept by the next group checkpoint, which a clean close writes; a
    /// crash loses them, so the consumer then looks idle longer, never the reverse.
    mutating func touch(group: [UInt8], consumer: [UInt8], nowMs: UInt64) {
        guard let n = groups.groups[group]?.consumerNumbers[consumer] else { return }
        groups.groups[group]!.consumers[n]!.seenTime = nowMs
        groupSeenChanged = true
    }

    // MARK: XACK

    mutating func ack(group: [UInt8], ids: [StreamID]) throws(SpoolError) -> (Int, DurabilityEnds) {
        guard let pel = groups.groups[group]?.pel else { return (0, DurabilityEnds()) }
        let present: [StreamID]
        if zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }) {
            present = ids.filter { pel[$0] != nil }  // ascending, as clients send them: no duplicates
        } else {
            var seen = Set<StreamID>()
            present = ids.filter { pel[$0] != nil && seen.insert($0).inserted }
        }
        guard !present.isEmpty else { return (0, DurabilityEnds()) }
        return (present.count, DurabilityEnds(groups: try commitGroup(.ack(group: group, ids: present))))
    }

    // MARK: XPENDING

    func pendingSummary(key: [UInt8], group: [UInt8]) throws(SpoolError) -> PendingSummary {
        guard let g = groups.groups[group] else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        let consumers = g.consumers.values.filter { $0.pending > 0 }
            .sorted { $0.name.lexicographicallyPrecedes($1.name) }
            .map { (name: $0.name, pending: $0.pending) }
        return PendingSummary(count: g.pel.count, smallestID: g.pel.first?.key, largestID: g.pel.last?.key, consumers: consumers)
    }

    func pendingEntries(key: [UInt8], group: [UInt8], from start: StreamID, to end: StreamID, count: Int, consumer: [UInt8]?,
                        minIdleMs: UInt64, nowMs: UInt64) throws(SpoolError) -> [PendingEntry] {
        guard let g = groups.groups[group] else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        guard count > 0, start <= end else { return [] }
        var only: UInt32? = nil
        if let consumer {
            guard let n = g.consumerNumbers[consumer] else { return [] }
            only = n
        }
        var out: [PendingEntry] = []
        g.pel.forEach(from: start) { id, r in
            if id > end { return false }
            if let only, r.consumer != only { return true }
            let idle = nowMs &- min(nowMs, r.deliveryTime)
            if idle < minIdleMs { return true }
            out.append(PendingEntry(id: id, consumer: g.consumers[r.consumer]?.name ?? [], idleMs: idle,
                                    deliveryCount: r.deliveryCount, deliveryTime: r.deliveryTime))
            return out.count < count
        }
        return out
    }

    // MARK: XCLAIM

    mutating func claim(key: [UInt8], group: [UInt8], consumer: [UInt8], minIdleMs: UInt64, ids: [StreamID], options: ClaimOptions,
                        nowMs: UInt64, target: DeadLetterTarget) throws(SpoolError) -> (ClaimResult, DurabilityEnds) {
        guard groups.groups[group] != nil else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        var deliveryTime = Int64(clamping: nowMs)
        if let t = options.timeMs { deliveryTime = t } else if let idle = options.idleMs { deliveryTime = Int64(clamping: nowMs) &- idle }
        if deliveryTime < 0 || deliveryTime > Int64(clamping: nowMs) { deliveryTime = Int64(clamping: nowMs) }
        var entries: [GroupReadEntry] = []
        var final: [StreamID: PendingRecord?] = [:]
        var order: [StreamID] = []
        var dead: [DeadLetterCandidate] = []
        var cursor: Cursor? = nil
        do {
            let g = groups.groups[group]!
            if let l = options.lastID, l > g.lastID { cursor = Cursor(lastID: l, entriesRead: g.entriesRead) }
            let me = g.consumerNumbers[consumer] ?? g.nextConsumer  // a new consumer gets this number
            var fetch = EntryFetcher(snapshot)
            for id in ids {
                let current: PendingRecord? = final[id] ?? g.pel[id]
                guard let e = try fetch.entry(id) else {
                    if current != nil { final[id] = .some(nil); order.append(id) }
                    continue
                }
                var r: PendingRecord
                if let current {
                    r = current
                    if minIdleMs > 0, nowMs &- min(nowMs, r.deliveryTime) < minIdleMs { continue }
                } else if options.force {
                    r = PendingRecord(deliveryTime: nowMs, deliveryCount: 1, consumer: me)
                } else {
                    continue
                }
                if options.retryCount == nil && !options.justID && mustDeadLetter(g, count: r.deliveryCount) {
                    dead.append(DeadLetterCandidate(entry: e, consumer: g.consumers[r.consumer]?.name ?? consumer, deliveries: r.deliveryCount))
                    final[id] = .some(nil)  // gone from the PEL once dead-lettered
                    continue
                }
                r.deliveryTime = UInt64(deliveryTime)
                if let rc = options.retryCount { r.deliveryCount = rc } else if !options.justID { r.deliveryCount &+= 1 }
                r.consumer = me
                final[id] = .some(r)
                order.append(id)
                entries.append(GroupReadEntry(id: id, fields: options.justID ? nil : e.fields))
            }
        }
        var ends = DurabilityEnds()
        let deadIDs = try deadLetter(dead, key: key, group: group, target: target, nowMs: nowMs, ends: &ends)
        var items: [Item] = []
        var gone: [StreamID] = []
        var emitted = Set<StreamID>()
        for id in order where emitted.insert(id).inserted {
            if let r = final[id]! { items.append(Item(id, r.deliveryCount)) } else if !deadIDs.contains(id) { gone.append(id) }
        }
        let exists = groups.groups[group]!.consumerNumbers[consumer] != nil
        if !items.isEmpty || cursor != nil || !exists {
            ends.groups = try commitGroup(.deliver(.init(group: group, consumer: consumer, seenMs: nowMs, activeMs: items.isEmpty ? nil : nowMs,
                                                         cursor: cursor, timeMs: UInt64(deliveryTime), items: items)))
        } else {
            touch(group: group, consumer: consumer, nowMs: nowMs)
        }
        if !gone.isEmpty { ends.groups = try commitGroup(.ack(group: group, ids: gone)) }
        return (ClaimResult(entries: entries, deadLettered: deadIDs), ends)
    }

    // MARK: XAUTOCLAIM

    mutating func autoClaim(key: [UInt8], group: [UInt8], consumer: [UInt8], minIdleMs: UInt64, start: StreamID, count: Int,
                            justID: Bool, nowMs: UInt64, target: DeadLetterTarget) throws(SpoolError) -> (AutoClaimResult, DurabilityEnds) {
        guard groups.groups[group] != nil else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        let count = max(count, 1)
        let (attemptsLimit, overflow) = count.multipliedReportingOverflow(by: 10)
        var attempts = overflow ? Int.max - 1 : attemptsLimit
        var remaining = count
        var entries: [GroupReadEntry] = []
        var items: [Item] = []
        var deleted: [StreamID] = []
        var dead: [DeadLetterCandidate] = []
        var next = StreamID.zero
        do {
            let g = groups.groups[group]!
            var scanned: [(StreamID, PendingRecord)] = []
            g.pel.forEach(from: start) { id, r in
                scanned.append((id, r))
                return scanned.count <= attempts
            }
            var fetch = EntryFetcher(snapshot)
            for (id, r) in scanned {
                if attempts == 0 || remaining == 0 { next = id; break }
                attempts -= 1
                guard let e = try fetch.entry(id) else {
                    deleted.append(id)
                    remaining -= 1
                    continue
                }
                if minIdleMs > 0, nowMs &- min(nowMs, r.deliveryTime) < minIdleMs { continue }
                if !justID && mustDeadLetter(g, count: r.deliveryCount) {
                    dead.append(DeadLetterCandidate(entry: e, consumer: g.consumers[r.consumer]?.name ?? [], deliveries: r.deliveryCount))
                    remaining -= 1
                    continue
                }
                items.append(Item(id, justID ? r.deliveryCount : r.deliveryCount &+ 1))
                entries.append(GroupReadEntry(id: id, fields: justID ? nil : e.fields))
                remaining -= 1
            }
        }
        var ends = DurabilityEnds()
        let deadIDs = try deadLetter(dead, key: key, group: group, target: target, nowMs: nowMs, ends: &ends)
        let exists = groups.groups[group]!.consumerNumbers[consumer] != nil
        if !items.isEmpty || !exists {
            ends.groups = try commitGroup(.deliver(.init(group: group, consumer: consumer, seenMs: nowMs, activeMs: items.isEmpty ? nil : nowMs,
                                                         cursor: nil, timeMs: nowMs, items: items)))
        } else {
            touch(group: group, consumer: consumer, nowMs: nowMs)
        }
        if !deleted.isEmpty { ends.groups = try commitGroup(.ack(group: group, ids: deleted)) }
        return (AutoClaimResult(nextStart: next, entries: entries, deletedIDs: deleted, deadLettered: deadIDs), ends)
    }

    // MARK: XINFO

    func groupInfos(nowMs: UInt64, full: Bool, count: Int) throws(SpoolError) -> [GroupInfo] {
        let firstID = try recordedFirstID()
        var out: [GroupInfo] = []
        for name in groups.groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let g = groups.groups[name]!
            var info = GroupInfo(name: name, consumers: g.consumers.count, pending: g.pel.count, lastDeliveredID: g.lastID,
                                 entriesRead: g.entriesRead, lag: lag(of: g, firstID: firstID), maxDeliveries: g.maxDeliveries,
                                 deadLetterStream: g.deadLetterStream, deadLettered: g.deadLettered)
            if full {
                let limit = count > 0 ? count : Int.max
                g.pel.forEach(from: .zero) { id, r in
                    info.pendingEntries.append(PendingEntry(id: id, consumer: g.consumers[r.consumer]?.name ?? [], idleMs: nowMs &- min(nowMs, r.deliveryTime),
                                                            deliveryCount: r.deliveryCount, deliveryTime: r.deliveryTime))
                    return info.pendingEntries.count < limit
                }
                info.consumerDetails = consumerInfos(g, nowMs: nowMs, pendingLimit: limit)
            }
            out.append(info)
        }
        return out
    }

    func consumerInfos(_ g: ConsumerGroup, nowMs: UInt64, pendingLimit: Int?) -> [ConsumerInfo] {
        var out: [ConsumerInfo] = []
        var index: [UInt32: Int] = [:]
        for (n, c) in g.consumers.sorted(by: { $0.value.name.lexicographicallyPrecedes($1.value.name) }) {
            index[n] = out.count
            let active = c.activeTime.map { Int64(clamping: $0) } ?? -1
            out.append(ConsumerInfo(name: c.name, pending: c.pending, idleMs: Int64(clamping: nowMs) - Int64(clamping: c.seenTime),
                                    inactiveMs: active < 0 ? -1 : Int64(clamping: nowMs) - active, seenTime: c.seenTime, activeTime: active))
        }
        if let limit = pendingLimit {
            g.pel.forEach(from: .zero) { id, r in
                if let i = index[r.consumer], out[i].pendingEntries.count < limit {
                    out[i].pendingEntries.append(PendingEntry(id: id, consumer: out[i].name, idleMs: nowMs &- min(nowMs, r.deliveryTime),
                                                              deliveryCount: r.deliveryCount, deliveryTime: r.deliveryTime))
                }
                return true
            }
        }
        return out
    }

    // MARK: Deleting with reference policies (Redis 8.2)

    /// XDELEX: one result per requested ID.
    mutating func deleteEx(_ ids: [StreamID], policy: ReferencePolicy) throws(SpoolError) -> ([DeleteResult], DurabilityEnds) {
        var results: [DeleteResult] = []
        var toDelete: [StreamID] = []
        var chosen = Set<StreamID>()
        var fetch = EntryFetcher(snapshot)
        for id in ids {
            // As Redis 8.2 does: "still referenced" is decided first, also for an ID that is
            // not (or no longer) in the stream but beyond a group's last-delivered ID.
            if policy == .acknowledged && isReferenced(id) { results.append(.referenced); continue }
            if chosen.contains(id) { results.append(.notFound); continue }
            guard try fetch.entry(id) != nil else { results.append(.notFound); continue }
            chosen.insert(id)
            toDelete.append(id)
            results.append(.deleted)
        }
        var ends = DurabilityEnds()
        if !toDelete.isEmpty { ends.stream = try delete(toDelete).1 }
        // DELREF drops every requested ID from the PELs, also one no longer in the stream (a
        // dangling reference after a KEEPREF trim or XDEL), as Redis 8.2 does.
        if policy == .deleteReferences, let e = try dropReferences(Array(Set(ids)).sorted()) { ends.groups = e }
        return (results, ends)
    }

    /// Removes `ids` from every group's PEL (DELREF); logs only when some group had one.
    mutating func dropReferences(_ ids: [StreamID]) throws(SpoolError) -> Int64? {
        let present = ids.filter { id in groups.groups.values.contains { $0.pel[id] != nil } }
        guard !present.isEmpty else { return nil }
        return try commitGroup(.dropReferences(ids: present))
    }

    /// XACKDEL.
    mutating func ackDelete(group: [UInt8], ids: [StreamID], policy: ReferencePolicy) throws(SpoolError) -> ([DeleteResult], DurabilityEnds) {
        guard let pel = groups.groups[group]?.pel else { return (ids.map { _ in .notFound }, DurabilityEnds()) }
        var acked: [StreamID] = []
        var ackedSet = Set<StreamID>()
        var results: [DeleteResult] = []
        for id in ids {
            if pel[id] != nil && ackedSet.insert(id).inserted { acked.append(id); results.append(.deleted) } else { results.append(.notFound) }
        }
        var ends = DurabilityEnds()
        guard !acked.isEmpty else { return (results, ends) }
        ends.groups = try commitGroup(.ack(group: group, ids: acked))
        var toDelete: [StreamID] = []
        var fetch = EntryFetcher(snapshot)
        var kept = Set<StreamID>()
        for id in acked {
            if policy == .acknowledged && isReferenced(id) { kept.insert(id); continue }
            if try fetch.entry(id) != nil { toDelete.append(id) }
        }
        if !kept.isEmpty {
            for (i, id) in ids.enumerated() where results[i] == .deleted && kept.contains(id) { results[i] = .referenced }
        }
        if !toDelete.isEmpty { ends.stream = try delete(toDelete).1 }
        // DELREF drops the acknowledged IDs from the other groups' PELs too, whether or not the
        // entry was still in the stream (as Redis 8.2 does).
        if policy == .deleteReferences, let e = try dropReferences(acked.sorted()) { ends.groups = e }
        return (results, ends)
    }

    /// XADD with its trim: returns the new ID and the journal offsets that make both durable.
    mutating func append(fields: [[UInt8]], id spec: AppendID, trim: TrimSpec?, policy: ReferencePolicy,
                         nowMs: UInt64) throws(SpoolError) -> (StreamID, DurabilityEnds) {
        let (newID, end) = try append(fields: fields, id: spec, nowMs: nowMs)
        var ends = DurabilityEnds(stream: end)
        if let trim {
            let (_, e) = try self.trim(trim, policy: policy)
            if let se = e.stream { ends.stream = se }
            ends.groups = e.groups
        }
        return (newID, ends)
    }

    /// The same with a KEEPREF trim, which touches only the stream journal: the offset to sync.
    mutating func appendKeepingReferences(fields: [[UInt8]], id spec: AppendID, trim: TrimSpec?,
                                          nowMs: UInt64) throws(SpoolError) -> (StreamID, Int64?) {
        let (newID, ends) = try append(fields: fields, id: spec, trim: trim, policy: .keepReferences, nowMs: nowMs)
        return (newID, ends.stream)
    }

    /// XTRIM / XADD trimming with a reference policy; returns the number of entries removed.
    ///
    /// DELREF and ACKED never drop a whole block, and an approximate (`~`) trim stops at the
    /// first block it cannot drop whole: with `~` they remove nothing (as Redis 8.2 does —
    /// checked against redis-server 8.2.3). Exact trims examine entries one by one.
    mutating func trim(_ spec: TrimSpec, policy: ReferencePolicy) throws(SpoolError) -> (Int, DurabilityEnds) {
        if policy != .keepReferences && spec.approximate { return (0, DurabilityEnds()) }
        switch policy {
        case .keepReferences:
            let (n, end) = try trim(spec)
            return (n, DurabilityEnds(stream: end))
        case .deleteReferences:
            guard let through = try trimPlan(spec) else { return (0, DurabilityEnds()) }
            // References to entries that are live now and at or below `through`.
            var refs: [StreamID] = []
            var fetch = EntryFetcher(snapshot)
            for g in groups.groups.values {
                var candidates: [StreamID] = []
                g.pel.forEach(from: .zero) { id, _ in
                    if id > through { return false }
                    candidates.append(id)
                    return true
                }
                for id in candidates where try fetch.entry(id) != nil { refs.append(id) }
            }
            let (n, end) = try trim(spec)
            var ends = DurabilityEnds(stream: end)
            if !refs.isEmpty { ends.groups = try dropReferences(Array(Set(refs)).sorted()) }
            return (n, ends)
        case .acknowledged:
            // Redis 8.2 walks the nodes (blocks) from the head. A node that a KEEPREF trim would
            // drop whole (MAXLEN: the length minus its live entries still reaches the threshold;
            // MINID: its last ID is below it) loses its unreferenced entries and the walk goes
            // on; in the first node that would not, unreferenced entries go up to the threshold
            // and the walk stops there (checked against redis-server 8.2.3).
            var blocks: [(last: StreamID, live: Int)] = []
            index.forEach(from: .zero) { _, info in
                blocks.append((info.lastID, info.live))
                return true
            }
            if let last = open.entries.last, open.live > 0 { blocks.append((last.id, open.live)) }
            var len = length
            var victims: [StreamID] = []
            let minLast = groups.groups.values.map(\.lastID).min()
            var block = -1
            var lastNode = false
            try StreamReader(snapshot).visit(from: .zero, to: .max, reverse: false) { e in
                if block < 0 || e.id > blocks[block].last {
                    if lastNode { return false }
                    repeat { block += 1 } while block < blocks.count - 1 && e.id > blocks[block].last
                    switch spec.strategy {
                    case .maxLen(let m): lastNode = len - blocks[block].live < m
                    case .minID(let minID): lastNode = blocks[block].last >= minID
                    }
                }
                switch spec.strategy {
                case .maxLen(let m): if len <= m { return false }
                case .minID(let minID): if e.id >= minID { return false }
                }
                // Entries not yet delivered to some group are referenced, and so are all after.
                if let minLast, e.id > minLast { return false }
                if isReferenced(e.id) { return true }
                victims.append(e.id)
                len -= 1
                return true
            }
            guard !victims.isEmpty else { return (0, DurabilityEnds()) }
            // Deletions that, like any trim, leave max-deleted-entry-ID alone: one append holds
            // the delete and the restoring counters.
            var w = ByteWriter(capacity: 32 + 12 * victims.count)
            JournalFormat.encode(.delete(victims), key: key, into: &w)
            JournalFormat.encode(.setMeta(lastID: meta.lastID, entriesAdded: meta.entriesAdded, maxDeletedID: meta.maxDeletedID), key: key, into: &w)
            let end = try logEncoded(w.bytes)
            for id in victims { _ = try deleteOne(id) }
            return (victims.count, DurabilityEnds(stream: end))
        }
    }
}
