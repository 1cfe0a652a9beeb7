import SpoolFiles
import SpoolFormat
import SpoolIndex

/// The invariants that tie `StreamCore`'s fields together, checked between operations (never
/// inside one). The model tests and the soak call `invariantViolations()` after every step; in
/// release builds it checks nothing (as swift-collections' `_checkInvariants` is compiled out),
/// so it costs nothing on the server.
extension StreamCore {
    /// Whether the checks run: debug builds (tests) only.
    static var checksInvariants: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }

    /// Traps on the first violated invariant (debug builds; a no-op in release builds).
    func _checkInvariants() {
        guard Self.checksInvariants else { return }
        if let first = invariantViolations().first { preconditionFailure("StreamCore invariant violated: \(first)") }
    }

    /// Every invariant that does not hold, described (empty in release builds). O(blocks +
    /// tail entries + pending records); reads no block.
    func invariantViolations() -> [String] {
        guard Self.checksInvariants else { return [] }
        var v: [String] = []
        // A poisoned core is ahead of its files and is reloaded before any use.
        if poisoned { return v }
        if replaying { v.append("replaying outside open") }
        if sealedRegrownWhileReplaying { v.append("sealedRegrownWhileReplaying outside open") }
        if stagingForSync { v.append("stagingForSync outside a mutation") }
        checkBlocks(&v)
        checkOpenBlock(&v)
        checkSegments(&v)
        if let top = physicalTop, meta.lastID < top { v.append("last ID \(meta.lastID) below an ID on disk or in the tail block, \(top)") }
        if let e = open.entries.last?.id, (journalTop ?? .zero) < e {
            v.append("tail entry \(e) beyond the journal generation's top \(String(describing: journalTop))")
        }
        v += groups.invariantViolations().map { "groups: \($0)" }
        do { try index._checkInvariants() } catch { v.append("block index: \(error)") }
        return v
    }

    /// Index blocks: ascending and disjoint, within `sealedThrough`, above `trimmedThrough`,
    /// their tombstones within their range and counted; `length` the sum of the live entries.
    private func checkBlocks(_ v: inout [String]) {
        var live = 0
        var previous: (first: StreamID, last: StreamID)? = nil
        index.forEach(from: .zero) { first, info in
            if info.lastID < first { v.append("block \(first) ends before it starts (\(info.lastID))") }
            if let p = previous, first <= p.last { v.append("block \(first) overlaps block \(p.first)..\(p.last)") }
            if let s = sealedThrough, info.lastID > s { v.append("block \(first) ends past sealedThrough \(s)") }
            if let t = trimmedThrough, info.lastID <= t { v.append("block \(first) ends at or below trimmedThrough \(t)") }
            let tombs = blockTombstones[first] ?? []
            if tombs.count != Int(info.deleted) { v.append("block \(first): \(tombs.count) tombstones, deleted \(info.deleted)") }
            if info.deleted > info.count { v.append("block \(first): deleted \(info.deleted) of \(info.count)") }
            if let out = tombs.first(where: { $0 < first || $0 > info.lastID }) { v.append("block \(first): tombstone \(out) outside it") }
            if segments[info.segment] == nil { v.append("block \(first) in segment \(info.segment), which is not open") }
            live += info.live
            previous = (first, info.lastID)
            return true
        }
        for first in blockTombstones.keys where index[first] == nil { v.append("tombstones of block \(first), which is not indexed") }
        if live + open.live != length { v.append("length \(length), blocks and tail hold \(live + open.live)") }
    }

    /// The tail block: ascending, after every indexed block, its deletions its own; a reopened
    /// block is the tail block and out of the index.
    private func checkOpenBlock(_ v: inout [String]) {
        let ids = open.entries.map(\.id)
        if zip(ids, ids.dropFirst()).contains(where: { $0 >= $1 }) { v.append("tail block IDs not ascending") }
        if !open.deleted.isSubset(of: ids) { v.append("tail block deletions outside it") }
        if let f = ids.first, let (lf, li) = index.last, f <= li.lastID { v.append("tail block starts at \(f), within block \(lf)..\(li.lastID)") }
        if let t = trimmedThrough, let alive = ids.first(where: { $0 <= t && !open.deleted.contains($0) }) {
            v.append("tail entry \(alive) live at or below trimmedThrough \(t)")
        }
        if let r = reopened {
            if ids.first != r.first { v.append("reopened block \(r.first) is not the tail block (\(String(describing: ids.first)))") }
            if index[r.first] != nil { v.append("reopened block \(r.first) still indexed") }
            if segments[r.segment] == nil { v.append("reopened block's segment \(r.segment) is not open") }
        }
    }

    /// Segments: the active one open, each one's count of live blocks (a reopened block's old
    /// copy included) matching the index, the active segment's listed blocks ending at its end.
    private func checkSegments(_ v: inout [String]) {
        if segments[active.number] !== active { v.append("active segment \(active.number) is not the open one") }
        var counted: [UInt64: Int] = [:]
        index.forEach(from: .zero) { _, info in counted[info.segment, default: 0] += 1; return true }
        if let r = reopened { counted[r.segment, default: 0] += 1 }
        for (number, n) in segmentLiveBlocks where n != counted[number, default: 0] {
            v.append("segment \(number): \(n) live blocks counted, \(counted[number, default: 0]) found")
        }
        for (number, n) in counted where segmentLiveBlocks[number] == nil { v.append("segment \(number) holds \(n) live blocks but has no count") }
        for (first, number) in droppedBlocks where segments[number] == nil { v.append("dropped block \(first) in segment \(number), which is gone") }
        if !activeSealed {
            let end = activeBlocks.last.map { Int64($0.end) } ?? Int64(SegmentFormat.headerSize)
            if end != active.size { v.append("active segment is \(active.size) bytes, its blocks end at \(end)") }
        }
    }
}
