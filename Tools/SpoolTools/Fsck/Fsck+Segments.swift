import SpoolFormat
import SpoolFiles
import SpoolIO

extension StreamCheck {
    /// Checks one segment: header, every frame (checksums, decompression, entries, ID order
    /// inside and across blocks and segments), unreadable bytes, footer against the blocks.
    mutating func checkSegment(number: UInt64, bytes: SegmentBytes, isLast: Bool, walk: inout SegmentWalk) {
        let name = SegmentFormat.fileName(number)
        let path = stream.path + "/" + name
        let srel = rel + "/" + name
        bytes.withBytes { b in checkSegmentBytes(b, number: number, path: path, srel: srel, isLast: isLast, walk: &walk) }
    }

    /// The checks of one segment's bytes, in file order; every finding whose repair is the
    /// segment's rewrite is collected, and one repair is planned for all of them.
    private mutating func checkSegmentBytes(_ b: UnsafeRawBufferPointer, number: UInt64, path: String, srel: String,
                                            isLast: Bool, walk: inout SegmentWalk) {
        let scan = SegmentScan.scan(b, path: path, relativePath: srel, number: number)
        bytesChecked += b.count
        let firstProblem = problems.count
        var rewrite = checkHeader(scan, count: b.count, srel: srel, isLast: isLast)
        if number == walk.listedSegment, !scan.isSealed { walk.listedSegmentUnsealed = true }
        let (kept, liveBlocksHere, damaged) = checkFrames(b, scan, number: number, srel: srel, walk: &walk)
        rewrite = damaged || rewrite
        rewrite = reportGaps(scan, count: b.count, srel: srel, isLast: isLast) || rewrite
        rewrite = checkFooter(scan, count: b.count, srel: srel, isLast: isLast) || rewrite
        if !kept.isEmpty && liveBlocksHere == 0 && !isLast {
            walk.reclaimable.append(number)
        }
        guard rewrite, problems.count > firstProblem else { return }
        planRewrite(b, scan, kept: kept, number: number, path: path, srel: srel, isLast: isLast, findingsFrom: firstProblem)
    }

    /// Reports a damaged or torn header; true when the segment needs rewriting.
    private mutating func checkHeader(_ scan: SegmentScan, count: Int, srel: String, isLast: Bool) -> Bool {
        guard let h = scan.headerError else { return false }
        if count < SegmentFormat.headerSize && isLast {
            report(srel, 0, "torn segment header (\(count) bytes): a segment being created",
                   affects: "nothing (the engine rewrites the header on open)", repair: "")
        } else {
            report(srel, h.offset, "segment header damaged: \(h.reason)",
                   affects: "the whole data directory: the engine refuses to open it", repair: "")
        }
        return true
    }

    /// Decodes every frame and adds what it holds to `walk`; returns the intact frames, how
    /// many of them hold live entries, and whether any was damaged.
    private mutating func checkFrames(_ b: UnsafeRawBufferPointer, _ scan: SegmentScan, number: UInt64, srel: String,
                                      walk: inout SegmentWalk) -> (kept: [SegmentScan.Frame], liveBlocks: Int, damaged: Bool) {
        var kept: [SegmentScan.Frame] = []
        var liveBlocksHere = 0
        var damaged = false
        let label = streamLabel
        let state = walk.state
        for frame in scan.frames {
            let h = frame.header
            var damage = frame.damage
            var census = BlockCensus(state: state, dropped: state.droppedBlocks.contains(h.firstID))
            if damage == nil, let p = walk.previousLast, h.firstID <= p {
                damage = FormatError(file: srel, offset: UInt64(frame.offset + 8), "block \(h.firstID)..\(h.lastID) does not come after the previous block, which ends at \(p)")
            }
            if damage == nil {
                do { try SegmentScan.walk(b, frame, file: srel, scratch: &scratch, into: &census) } catch { damage = error }
            }
            progress.advance(work: h.frameLength, items: Int(h.count))
            if number == walk.listedSegment, !scan.isSealed, damage == nil, walk.listedSegmentFramesIntact {
                walk.listedSegmentFrames.append(frame.footerEntry)
            }
            if let d = damage {
                if number == walk.listedSegment { walk.listedSegmentFramesIntact = false }
                damaged = true
                report(srel, UInt64(frame.offset), "block at \(frame.offset): \(d.reason)\(d.offset != UInt64(frame.offset) && d.file == srel ? " (at \(d.offset))" : "")",
                       affects: "\(h.count) entries \(h.firstID)..\(h.lastID) of \(label), which cannot be read", repair: "")
                continue
            }
            kept.append(frame)
            blocksChecked += 1
            entriesChecked += Int(h.count)
            walk.add(h, census)
            let trimmedWhole = state.trimmedThrough.map { h.lastID <= $0 } ?? false
            if !trimmedWhole && !state.droppedBlocks.contains(h.firstID) { liveBlocksHere += 1 }
        }
        return (kept, liveBlocksHere, damaged)
    }

    /// Reports unreadable bytes (a torn tail of the active segment is a note while a server
    /// runs); true when the segment needs rewriting.
    private mutating func reportGaps(_ scan: SegmentScan, count: Int, srel: String, isLast: Bool) -> Bool {
        var rewrite = false
        for (i, gap) in scan.gaps.enumerated() {
            let bytesLost = gap.range.count
            let atEnd = i == scan.gaps.count - 1 && gap.range.upperBound == count
            if isLast && atEnd && !scan.hasTrailer {
                if live {
                    report(srel, UInt64(gap.range.lowerBound), "incomplete block at the end (\(bytesLost) bytes): \(gap.error.reason)",
                           affects: "nothing yet: a server holds the directory, this may be a write in progress", severity: .note)
                    continue
                }
                report(srel, UInt64(gap.range.lowerBound), "torn tail: \(bytesLost) bytes of an incomplete block write (\(gap.error.reason))",
                       affects: "nothing: the block's entries are still in the journal (the engine cuts the tail on open)", repair: "")
            } else {
                report(srel, UInt64(gap.range.lowerBound), "\(bytesLost) unreadable bytes: \(gap.error.reason)",
                       affects: "any block stored in these bytes", repair: "")
            }
            rewrite = true
        }
        return rewrite
    }

    /// Checks the footer against the frames; true when the segment needs rewriting.
    private mutating func checkFooter(_ scan: SegmentScan, count: Int, srel: String, isLast: Bool) -> Bool {
        switch scan.footer {
        case .absent:
            guard !isLast else { return false }
            report(srel, UInt64(count), "segment has no footer (it was never sealed)",
                   affects: "nothing (the engine seals it on open)", repair: "")
        case .damaged(let e):
            report(srel, e.offset, "footer damaged: \(e.reason)",
                   affects: "nothing (the blocks are intact; the engine treats the segment as unsealed)", repair: "")
        case .valid(let entries, let footerOffset):
            let found = scan.frames.map(\.footerEntry)
            guard found != entries else { return false }
            report(srel, UInt64(footerOffset), "footer lists \(entries.count) blocks that differ from the \(found.count) blocks in the file",
                   affects: "reads through the index: the engine trusts the footer", repair: "")
        }
        return true
    }

    /// One repair for the whole segment: rewrite it from its good blocks (the original kept in
    /// lost+found), or move it away when nothing in it is readable. Every finding since
    /// `findingsFrom` without a repair of its own gets this one.
    private mutating func planRewrite(_ b: UnsafeRawBufferPointer, _ scan: SegmentScan, kept: [SegmentScan.Frame], number: UInt64,
                                      path: String, srel: String, isLast: Bool, findingsFrom firstProblem: Int) {
        let action: RepairAction
        let text: String
        if kept.isEmpty && !isLast {
            action = .quarantine(path: path, relativePath: srel)
            text = "move the segment to lost+found (no readable block)"
        } else {
            let sealed = !kept.isEmpty && (!isLast || scan.hasTrailer)
            var out = SegmentFormat.encodeHeader(number: number)
            var index: [SegmentFormat.FooterEntry] = []
            for f in kept {
                index.append(SegmentFormat.FooterEntry(f.header, at: UInt64(out.count)))
                out += b.checkedSlice(f.range)
            }
            if sealed { out += SegmentFormat.encodeFooter(index, footerOffset: UInt64(out.count)) }
            action = .replace(path: path, relativePath: srel, bytes: out, keepOriginal: true)
            text = "rewrite the segment with its \(kept.count) good blocks\(sealed ? " and a new footer" : "") (the original kept in lost+found)"
        }
        actions.append(action)
        for i in firstProblem..<problems.count where problems[i].repair == "" {
            problems[i].repair = text
            problems[i].action = actions.count - 1
        }
    }
}

/// What fsck learns from one block's IDs as `BlockCodec.walk` reports them: live entries, the
/// first live one, the last one not trimmed, tombstones met. No closure and no allocation per
/// entry (the walk is specialized for it).
struct BlockCensus: LastIDSink {
    let trimmedThrough: StreamID?
    /// The whole block is deleted (its first ID is in the checkpoint's dropped list).
    let dropped: Bool
    let deleted: Set<StreamID>
    var lastID: StreamID? = nil
    var live = 0
    var firstLive: StreamID? = nil
    var maxPresent: StreamID? = nil
    var tombstones: [StreamID] = []

    init(state: StreamLogicalState, dropped: Bool) {
        trimmedThrough = state.trimmedThrough
        self.dropped = dropped
        deleted = state.deleted
    }

    @inline(__always) mutating func master(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func field(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func endEntry() {}

    @inline(__always) mutating func entry(_ id: StreamID, sameFields: Bool) {
        lastID = id
        if let t = trimmedThrough, id <= t { return }
        maxPresent = id
        if dropped { return }
        if !deleted.isEmpty, deleted.contains(id) {
            tombstones.append(id)
            return
        }
        live += 1
        if firstLive == nil { firstLive = id }
    }
}
