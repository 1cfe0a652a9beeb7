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

    private mutating func checkSegmentBytes(_ b: UnsafeRawBufferPointer, number: UInt64, path: String, srel: String,
                                            isLast: Bool, walk: inout SegmentWalk) {
        let scan = SegmentScan.scan(b, path: path, relativePath: srel, number: number)
        bytesChecked += b.count
        let firstProblem = problems.count
        var rewrite = false
        let label = streamLabel

        if let h = scan.headerError {
            rewrite = true
            if b.count < SegmentFormat.headerSize && isLast {
                report(srel, 0, "torn segment header (\(b.count) bytes): a segment being created",
                       affects: "nothing (the engine rewrites the header on open)", repair: "")
            } else {
                report(srel, h.offset, "segment header damaged: \(h.reason)",
                       affects: "the whole data directory: the engine refuses to open it", repair: "")
            }
        }

        var kept: [SegmentScan.Frame] = []
        var liveBlocksHere = 0
        if number == walk.listedSegment, !scan.isSealed { walk.listedSegmentUnsealed = true }
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
                rewrite = true
                report(srel, UInt64(frame.offset), "block at \(frame.offset): \(d.reason)\(d.offset != UInt64(frame.offset) && d.file == srel ? " (at \(d.offset))" : "")",
                       affects: "\(h.count) entries \(h.firstID)..\(h.lastID) of \(label), which cannot be read", repair: "")
                continue
            }
            kept.append(frame)
            blocksChecked += 1
            entriesChecked += Int(h.count)
            walk.blocks += 1
            walk.entries += Int(h.count)
            walk.previousLast = h.lastID
            walk.maxPresentAll = h.lastID
            walk.maxEntriesAdded = max(walk.maxEntriesAdded, h.entriesAdded)
            // Only the checkpoint's dropped blocks are looked up here (one set insert per block was 3% of a run).
            if census.dropped { walk.blockFirstIDs.insert(h.firstID) }
            walk.live += census.live
            if walk.firstLive == nil { walk.firstLive = census.firstLive }
            if let m = census.maxPresent { walk.maxPresent = m }
            for t in census.tombstones { walk.matchedTombstones.insert(t) }
            let trimmedWhole = walk.state.trimmedThrough.map { h.lastID <= $0 } ?? false
            if !trimmedWhole && !walk.state.droppedBlocks.contains(h.firstID) { liveBlocksHere += 1 }
        }

        for (i, gap) in scan.gaps.enumerated() {
            rewrite = true
            let bytesLost = gap.range.count
            let atEnd = i == scan.gaps.count - 1 && gap.range.upperBound == b.count
            if isLast && atEnd && !scan.hasTrailer {
                if live {
                    rewrite = false
                    report(srel, UInt64(gap.range.lowerBound), "incomplete block at the end (\(bytesLost) bytes): \(gap.error.reason)",
                           affects: "nothing yet: a server holds the directory, this may be a write in progress", severity: .note)
                } else {
                    report(srel, UInt64(gap.range.lowerBound), "torn tail: \(bytesLost) bytes of an incomplete block write (\(gap.error.reason))",
                           affects: "nothing: the block's entries are still in the journal (the engine cuts the tail on open)", repair: "")
                }
            } else {
                report(srel, UInt64(gap.range.lowerBound), "\(bytesLost) unreadable bytes: \(gap.error.reason)",
                       affects: "any block stored in these bytes", repair: "")
            }
        }

        switch scan.footer {
        case .absent:
            if !isLast {
                rewrite = true
                report(srel, UInt64(b.count), "segment has no footer (it was never sealed)",
                       affects: "nothing (the engine seals it on open)", repair: "")
            }
        case .damaged(let e):
            rewrite = true
            report(srel, e.offset, "footer damaged: \(e.reason)",
                   affects: "nothing (the blocks are intact; the engine treats the segment as unsealed)", repair: "")
        case .valid(let entries, let footerOffset):
            let found = scan.frames.map(\.footerEntry)
            if found != entries {
                rewrite = true
                report(srel, UInt64(footerOffset), "footer lists \(entries.count) blocks that differ from the \(found.count) blocks in the file",
                       affects: "reads through the index: the engine trusts the footer", repair: "")
            }
        }

        if !kept.isEmpty && liveBlocksHere == 0 && !isLast {
            walk.reclaimable.append(number)
        }

        guard rewrite, problems.count > firstProblem else { return }
        // One repair for the whole segment: rewrite it from its good blocks (the original kept
        // in lost+found), or move it away when nothing in it is readable.
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
