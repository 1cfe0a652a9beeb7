public import SpoolFormat

/// Consumer groups (reference §4, §5, §6): the calls behind XGROUP, XREADGROUP, XACK,
/// XPENDING, XCLAIM, XAUTOCLAIM, XINFO, XACKDEL, XDELEX and the KEEPREF/DELREF/ACKED
/// options, plus Spool's dead-lettering and rewind-by-time.
///
/// Keys and names are binary-safe byte strings. Errors are `SpoolError.command` with Redis's
/// exact text. Replies are plain data; the server formats RESP. Calls whose reply depends on
/// the clock take `nowMs` (Unix ms), defaulting to the wall clock. With `sync` true (the
/// default) a call returns once its journal records are durable under policy `always`.
extension Database {
    static let xgroupNeedsKey = SpoolError.command("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")

    private func groupStream(_ key: [UInt8]) throws(SpoolError) -> SpoolStream {
        guard let s = stream(key) else { throw Self.xgroupNeedsKey }
        return s
    }

    /// Resolves the dead-letter stream of `group` before the source stream is locked (the
    /// database lock is never taken under a stream lock).
    private func deadLetterTarget(_ s: SpoolStream, key: [UInt8], group: [UInt8]) throws(SpoolError) -> DeadLetterTarget {
        guard let name = s.deadLetterName(group: group) else { return .none }
        if name == key { return .same }
        return .other(try openOrCreate(name))
    }

    // MARK: XGROUP

    /// ENTRIESREAD's range (XGROUP CREATE / SETID): a count, or -1 for "unknown". Redis checks
    /// it while reading the options, before the key.
    public static func checkEntriesRead(_ value: Int64) throws(SpoolError) {
        if value < -1 { throw SpoolError.command("ERR value for ENTRIESREAD must be positive or -1") }
    }

    /// XGROUP CREATE. `makeStream` is MKSTREAM; `entriesRead` is ENTRIESREAD (-1 = unknown).
    public func createGroup(_ key: [UInt8], _ group: [UInt8], at start: GroupStart, makeStream: Bool = false,
                            entriesRead: Int64? = nil, sync: Bool = true) throws(SpoolError) {
        if let er = entriesRead { try Self.checkEntriesRead(er) }
        let s: SpoolStream
        if let existing = stream(key) { s = existing } else if makeStream { s = try openOrCreate(key) } else { throw Self.xgroupNeedsKey }
        try s.groupMutate(sync: sync) { (c) throws(SpoolError) in
            ((), try c.createGroup(key: key, name: group, start: start, entriesRead: entriesRead))
        }
    }

    /// XGROUP SETID.
    public func setGroupID(_ key: [UInt8], _ group: [UInt8], to start: GroupStart, entriesRead: Int64? = nil, sync: Bool = true) throws(SpoolError) {
        if let er = entriesRead { try Self.checkEntriesRead(er) }
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in
            ((), try c.setGroupID(key: key, name: group, start: start, entriesRead: entriesRead))
        }
    }

    /// Rewind by time: the group's last-delivered-ID becomes the last possible ID before
    /// `timeMs`, so every entry added at or after that wall-clock time is delivered again by
    /// `>`. Entries-read becomes unknown (estimated per §6.1). The PEL is left as it is, as with
    /// XGROUP SETID: an entry still pending that `>` delivers again moves to the reading
    /// consumer with its delivery count reset to 1.
    public func rewindGroup(_ key: [UInt8], _ group: [UInt8], toTimeMs timeMs: UInt64, sync: Bool = true) throws(SpoolError) {
        let id = StreamID(timeMs, 0).predecessor ?? .zero
        try setGroupID(key, group, to: .id(id), entriesRead: nil, sync: sync)
    }

    /// XGROUP DESTROY: whether the group existed.
    @discardableResult
    public func destroyGroup(_ key: [UInt8], _ group: [UInt8], sync: Bool = true) throws(SpoolError) -> Bool {
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in try c.destroyGroup(name: group) }
    }

    /// XGROUP CREATECONSUMER: whether it was created.
    @discardableResult
    public func createConsumer(_ key: [UInt8], _ group: [UInt8], _ consumer: [UInt8], nowMs: UInt64 = StreamClock.nowMs(), sync: Bool = true) throws(SpoolError) -> Bool {
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in
            try c.createConsumer(key: key, group: group, consumer: consumer, nowMs: nowMs)
        }
    }

    /// XGROUP DELCONSUMER: the number of pending entries the consumer had (now dropped).
    @discardableResult
    public func deleteConsumer(_ key: [UInt8], _ group: [UInt8], _ consumer: [UInt8], sync: Bool = true) throws(SpoolError) -> Int {
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in
            try c.deleteConsumer(key: key, group: group, consumer: consumer)
        }
    }

    /// Restores a consumer of `group` as another server reported it, for migrations
    /// (`spool import`): the consumer is created when missing, its seen-time (and active-time,
    /// when known) set, and each of `pending` becomes a pending record owned by it with the given
    /// delivery count and delivery time, replacing any record of that ID. The group cursor is
    /// left alone, and the entries need not exist (Redis keeps records of deleted entries too),
    /// but no ID may exceed the stream's last-generated-ID. Call it once per consumer or once per
    /// page of records; repeating it is harmless. Not a Redis command.
    public func restoreConsumer(_ key: [UInt8], _ group: [UInt8], _ consumer: [UInt8], seenMs: UInt64, activeMs: UInt64?,
                                pending: [RestoredPending] = [], sync: Bool = true) throws(SpoolError) {
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in
            ((), try c.restoreConsumer(key: key, group: group, consumer: consumer, seenMs: seenMs, activeMs: activeMs, pending: pending))
        }
    }

    /// Spool's dead-lettering (wire: `SPOOL.DLQ`): once an entry has been delivered
    /// `maxDeliveries` times, the delivery that would exceed that instead appends it to the
    /// stream `deadLetterStream` (its fields plus `spool-source-stream`, `spool-source-id`,
    /// `spool-group`, `spool-consumer`, `spool-deliveries`) and acknowledges it in the group.
    /// `maxDeliveries` 0 turns it off.
    public func setDeadLetter(_ key: [UInt8], _ group: [UInt8], maxDeliveries: UInt64, deadLetterStream: [UInt8], sync: Bool = true) throws(SpoolError) {
        if maxDeliveries > 0 && deadLetterStream == key {
            // Allowed, but an entry dead-lettered into its own stream is delivered again.
        }
        try groupStream(key).groupMutate(sync: sync) { (c) throws(SpoolError) in
            ((), try c.setDeadLetter(key: key, group: group, maxDeliveries: maxDeliveries, stream: deadLetterStream))
        }
    }

    // MARK: XREADGROUP

    /// XREADGROUP without BLOCK. Every key and group is checked before anything is read. For
    /// `>` a stream with nothing new is left out; history reads always appear. `count` nil or
    /// ≤ 0 means no limit; `claimMinIdleMs` is CLAIM (applies to `>` only).
    public func readGroup(group: [UInt8], consumer: [UInt8], streams: [(key: [UInt8], position: GroupReadPosition)],
                          count: Int? = nil, noAck: Bool = false, claimMinIdleMs: UInt64? = nil,
                          nowMs: UInt64 = StreamClock.nowMs(), sync: Bool = true) throws(SpoolError) -> [GroupReadResult] {
        var resolved: [SpoolStream] = []
        for (key, _) in streams {
            guard let s = stream(key), (try? s.groupRead({ $0.groups.groups[group] != nil })) == true else {
                throw NoGroupText.readGroup.error(key: key, group: group)
            }
            resolved.append(s)
        }
        var out: [GroupReadResult] = []
        for (i, (key, position)) in streams.enumerated() {
            let s = resolved[i]
            let r: GroupReadResult? = try withDeadLetterRetry { () throws(SpoolError) in
                let target = try deadLetterTarget(s, key: key, group: group)
                return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in
                    try c.readGroup(key: key, group: group, consumer: consumer, position: position, count: count, noAck: noAck,
                                    claimMinIdle: claimMinIdleMs, nowMs: nowMs, target: target)
                }
            }
            if let r { out.append(r) }
        }
        return out
    }

    /// XREADGROUP `>` on one stream with the delivered entries held as views into the blocks
    /// they were read from instead of an array per field: the same delivery (PEL, cursor,
    /// consumer, durability) as
    /// `readGroup(group:consumer:streams: [(key, .new)] ...)`, for consumers that read entries
    /// in place (`EntryBatch.forEach`). Empty when nothing new was there.
    public func readGroupBatch(group: [UInt8], consumer: [UInt8], key: [UInt8], count: Int? = nil, noAck: Bool = false,
                               nowMs: UInt64 = StreamClock.nowMs(), sync: Bool = true) throws(SpoolError) -> EntryBatch {
        guard let s = stream(key) else { throw NoGroupText.readGroup.error(key: key, group: group) }
        return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in
            var batch: EntryBatch? = EntryBatch()
            // `>` without CLAIM never redelivers, so nothing is dead-lettered.
            let (_, ends) = try c.readGroup(key: key, group: group, consumer: consumer, position: .new, count: count, noAck: noAck,
                                            claimMinIdle: nil, nowMs: nowMs, target: .none, batch: &batch)
            return (batch!, ends)
        }
    }

    // MARK: XACK

    /// XACK: the number of IDs removed from the PEL (0 for a missing key or group).
    @discardableResult
    public func ack(_ key: [UInt8], _ group: [UInt8], _ ids: [StreamID], sync: Bool = true) throws(SpoolError) -> Int {
        guard let s = stream(key) else { return 0 }
        return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in try c.ack(group: group, ids: ids) }
    }

    // MARK: XPENDING

    /// XPENDING summary form.
    public func pendingSummary(_ key: [UInt8], _ group: [UInt8]) throws(SpoolError) -> PendingSummary {
        guard let s = stream(key) else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        return try s.groupRead { (c) throws(SpoolError) in try c.pendingSummary(key: key, group: group) }
    }

    /// XPENDING extended form: records with `start ≤ id ≤ end` (exclusive bounds already
    /// applied by the caller), idle ≥ `minIdleMs`, owned by `consumer` if given, at most `count`.
    public func pending(_ key: [UInt8], _ group: [UInt8], from start: StreamID = .zero, to end: StreamID = .max, count: Int,
                        consumer: [UInt8]? = nil, minIdleMs: UInt64 = 0, nowMs: UInt64 = StreamClock.nowMs()) throws(SpoolError) -> [PendingEntry] {
        guard let s = stream(key) else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        return try s.groupRead { (c) throws(SpoolError) in
            try c.pendingEntries(key: key, group: group, from: start, to: end, count: count, consumer: consumer, minIdleMs: minIdleMs, nowMs: nowMs)
        }
    }

    // MARK: XCLAIM / XAUTOCLAIM

    /// XCLAIM.
    public func claim(_ key: [UInt8], _ group: [UInt8], consumer: [UInt8], minIdleMs: Int64, ids: [StreamID],
                      options: ClaimOptions = ClaimOptions(), nowMs: UInt64 = StreamClock.nowMs(), sync: Bool = true) throws(SpoolError) -> ClaimResult {
        guard let s = stream(key) else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        return try withDeadLetterRetry { () throws(SpoolError) in
            let target = try deadLetterTarget(s, key: key, group: group)
            return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in
                try c.claim(key: key, group: group, consumer: consumer, minIdleMs: UInt64(max(minIdleMs, 0)), ids: ids,
                            options: options, nowMs: nowMs, target: target)
            }
        }
    }

    /// XAUTOCLAIM (`start` with exclusive bound already applied; `count` default 100).
    public func autoClaim(_ key: [UInt8], _ group: [UInt8], consumer: [UInt8], minIdleMs: Int64, start: StreamID, count: Int = 100,
                          justID: Bool = false, nowMs: UInt64 = StreamClock.nowMs(), sync: Bool = true) throws(SpoolError) -> AutoClaimResult {
        guard let s = stream(key) else { throw NoGroupText.keyOrGroup.error(key: key, group: group) }
        if count <= 0 { throw SpoolError.command("ERR COUNT must be > 0") }
        return try withDeadLetterRetry { () throws(SpoolError) in
            let target = try deadLetterTarget(s, key: key, group: group)
            return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in
                try c.autoClaim(key: key, group: group, consumer: consumer, minIdleMs: UInt64(max(minIdleMs, 0)), start: start, count: count,
                                justID: justID, nowMs: nowMs, target: target)
            }
        }
    }

    // MARK: XINFO

    /// XINFO GROUPS (groups by name).
    public func groupsInfo(_ key: [UInt8], nowMs: UInt64 = StreamClock.nowMs()) throws(SpoolError) -> [GroupInfo] {
        guard let s = stream(key) else { throw SpoolError.noSuchKey }
        return try s.groupRead { (c) throws(SpoolError) in try c.groupInfos(nowMs: nowMs, full: false, count: 0) }
    }

    /// XINFO CONSUMERS (consumers by name).
    public func consumersInfo(_ key: [UInt8], _ group: [UInt8], nowMs: UInt64 = StreamClock.nowMs()) throws(SpoolError) -> [ConsumerInfo] {
        guard let s = stream(key) else { throw SpoolError.noSuchKey }
        return try s.groupRead { (c) throws(SpoolError) in
            guard let g = c.groups.groups[group] else { throw NoGroupText.consumerGroup.error(key: key, group: group) }
            return c.consumerInfos(g, nowMs: nowMs, pendingLimit: nil)
        }
    }

    /// XINFO STREAM key FULL [COUNT n]: `count` 0 = everything, default 10.
    public func streamInfoFull(_ key: [UInt8], count: Int = 10, nowMs: UInt64 = StreamClock.nowMs()) throws(SpoolError) -> StreamFullInfo {
        guard let s = stream(key) else { throw SpoolError.noSuchKey }
        let info = try s.info()
        let groups = try s.groupRead { (c) throws(SpoolError) in try c.groupInfos(nowMs: nowMs, full: true, count: count) }
        let entries = try s.range(count: count > 0 ? count : nil)
        return StreamFullInfo(stream: info, entries: entries, groups: groups)
    }

    /// Number of groups of a stream (XINFO STREAM `groups`); 0 for a missing key.
    public func groupCount(_ key: [UInt8]) -> Int {
        guard let s = stream(key) else { return 0 }
        return (try? s.groupRead { $0.groups.groups.count }) ?? 0
    }

    /// Whether the stream at `key` has a group named `group` (false for a missing key).
    public func hasGroup(_ key: [UInt8], _ group: [UInt8]) -> Bool {
        guard let s = stream(key) else { return false }
        return (try? s.groupRead { $0.groups.groups[group] != nil }) ?? false
    }

    /// Throws the command's NOGROUP error (`text`) unless the stream at `key` has a group named
    /// `group`: for commands that, as Redis does, answer NOGROUP before parsing some of their
    /// arguments.
    public func requireGroup(_ key: [UInt8], _ group: [UInt8], _ text: NoGroupText) throws(SpoolError) {
        guard hasGroup(key, group) else { throw text.error(key: key, group: group) }
    }

    // MARK: 8.2 deletion and trimming with reference policies

    /// XDELEX: one result per ID (all `notFound` for a missing key).
    public func deleteEx(_ key: [UInt8], ids: [StreamID], policy: ReferencePolicy = .keepReferences, sync: Bool = true) throws(SpoolError) -> [DeleteResult] {
        guard let s = stream(key) else { return ids.map { _ in .notFound } }
        return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in try c.deleteEx(ids, policy: policy) }
    }

    /// XACKDEL: one result per ID (all `notFound` for a missing key or group).
    public func ackDelete(_ key: [UInt8], _ group: [UInt8], ids: [StreamID], policy: ReferencePolicy = .keepReferences, sync: Bool = true) throws(SpoolError) -> [DeleteResult] {
        guard let s = stream(key) else { return ids.map { _ in .notFound } }
        return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in try c.ackDelete(group: group, ids: ids, policy: policy) }
    }

    /// XTRIM with KEEPREF / DELREF / ACKED: the number of entries removed (0 for a missing key).
    @discardableResult
    public func trim(_ key: [UInt8], _ spec: TrimSpec, policy: ReferencePolicy, sync: Bool = true) throws(SpoolError) -> Int {
        guard let s = stream(key) else { return 0 }
        return try s.groupMutate(sync: sync) { (c) throws(SpoolError) in try c.trim(spec, policy: policy) }
    }

    /// XADD with KEEPREF / DELREF / ACKED trimming. Returns nil when the key is missing and
    /// `makeStream` is false (NOMKSTREAM).
    @discardableResult
    public func append(_ key: [UInt8], _ fields: [[UInt8]], id: AppendID = .auto, trim: TrimSpec? = nil, policy: ReferencePolicy = .keepReferences,
                       makeStream: Bool = true, sync: Bool = true) throws(SpoolError) -> StreamID? {
        try SpoolStream.checkFieldPairs(fields)
        if case .explicit(let i) = id, i == .zero { throw SpoolError.xaddZero }
        let s: SpoolStream
        if let existing = stream(key) { s = existing } else if makeStream { s = try openOrCreate(key) } else { return nil }
        return try s.append(fields, id: id, trim: trim, policy: policy, sync: sync)
    }
}
