import Logging
import SpoolFiles
import SpoolFormat
import SpoolIO

/// Blocks (Redis's nodes): when the open block is sealed, when a sealed tail block is reopened,
/// and when a block or a segment file goes.
extension StreamCore {
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
            let next = Segment.create(directory: directory, number: active.number + 1)
            active = next
            activeSealed = false
            activeBlocks = []
            segments[next.number] = next
            segmentLiveBlocks[next.number] = 0
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
        if active.size >= segmentTarget() { try rollSegment() }
    }

    /// The size at which the active segment is sealed: a quarter of what the stream's segments
    /// with live blocks hold (the active one included), a power of two between
    /// `minSegmentBytes` and `segmentBytes`. A stream that grows gets larger files as it grows
    /// (one for every quarter more); a capped one settles at segments of about a third of its
    /// live data, so MAXLEN/MINID deletes files while they are small, and its disk stays near
    /// what it holds instead of a 64 MiB segment it mostly trimmed.
    /// (The other segments' share is summed once per active segment, not at every block.)
    mutating func segmentTarget() -> Int64 {
        let maximum = Int64(max(options.segmentBytes, 1))
        let minimum = min(Int64(max(options.minSegmentBytes, 1)), maximum)
        if liveSealedBytes == nil {
            var sum: Int64 = 0
            for (number, blocks) in segmentLiveBlocks where blocks > 0 && number != active.number { sum += segments[number]?.size ?? 0 }
            liveSealedBytes = sum
        }
        let live = liveSealedBytes! + active.size
        var target = minimum
        while target < live / 4 && target < maximum { target <<= 1 }
        return min(target, maximum)
    }

    /// Seals the active segment (footer, fdatasync, map); the next block starts the next file.
    mutating func rollSegment() throws(SpoolError) {
        do { try active.seal(blocks: activeBlocks) } catch { throw error.spool }
        activeSealed = true
        activeBlocks = []
    }

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
        liveSealedBytes = nil  // (before anything can fail: the segment has no live block now)
        try writePending()
        guard let seg = segments.removeValue(forKey: number) else { return }
        segmentLiveBlocks.removeValue(forKey: number)
        droppedBlocks = droppedBlocks.filter { $0.value != number }
        try seg.removeFile()
        deletedFiles = true
    }
}
