import SpoolFormat

/// XADD: the next ID by Redis's rules, then the ENTRY record and the entry's place in the open block.
extension StreamCore {
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
            JournalFormat.encode(.entry(e), key: key, into: &w)
            shadowOpen.add(e)
            shadowMeta.lastID = id
            shadowMeta.entriesAdded &+= 1
            pending += 1
            ids.append(id)
        }
        try commit(&self)
        return end
    }
}
