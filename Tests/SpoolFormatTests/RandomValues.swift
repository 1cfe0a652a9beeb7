import SpoolFormat
import TestSupport

/// Random format values for round-trip and garbage tests. Everything is drawn from a
/// `SeededRNG`, so a failure names its seed and replays.
extension SeededRNG {
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A 64-bit value biased towards varint boundaries and the extremes.
    mutating func interestingUInt64() -> UInt64 {
        switch int(0...5) {
        case 0: return UInt64(int(0...300))
        case 1:
            let k = UInt64(int(1...9)) * 7
            return (UInt64(1) << k) &+ UInt64(bitPattern: Int64(int(-2...1)))
        case 2: return .max &- UInt64(int(0...3))
        case 3: return UInt64(1) << 63
        default: return next() >> UInt64(int(0...63))
        }
    }

    /// Bytes of length 0...maxLength, sometimes text, sometimes binary with NULs and 0xFF.
    mutating func bytes(maxLength: Int) -> [UInt8] {
        let n = chance(0.1) ? 0 : int(0...maxLength)
        if chance(0.5) {
            return (0..<n).map { _ in UInt8(ascii: "a") + UInt8(int(0...25)) }
        }
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// A strictly increasing run of `count` IDs starting at `start`, with small and huge
    /// gaps in both parts.
    mutating func increasingIDs(_ count: Int, from start: StreamID) -> [StreamID] {
        var out: [StreamID] = []
        var id = start
        for i in 0..<count {
            if i > 0 {
                switch int(0...4) {
                case 0, 1:
                    if id.seq < .max { id.seq += 1 } else if id.ms < .max { id = StreamID(id.ms + 1, 0) } else { return out }
                case 2:
                    let room = UInt64.max - id.seq
                    if room == 0 { if id.ms == .max { return out }; id = StreamID(id.ms + 1, 0) } else { id.seq += UInt64.random(in: 1...room, using: &self) }
                case 3:
                    if id.ms < .max { id = StreamID(id.ms + UInt64(int(1...1000)).clamped(to: UInt64.max - id.ms), interestingUInt64()) } else { return out }
                default:
                    let room = UInt64.max - id.ms
                    if room == 0 { return out }
                    id = StreamID(id.ms + UInt64.random(in: 1...room, using: &self), interestingUInt64())
                }
            }
            out.append(id)
        }
        return out
    }

    mutating func interestingID() -> StreamID {
        switch int(0...4) {
        case 0: return [StreamID.zero, StreamID(0, .max), StreamID(.max, 0), StreamID.max, StreamID(.max, .max - 1)][int(0...4)]
        default: return StreamID(interestingUInt64(), interestingUInt64())
        }
    }

    /// Field/value list of `pairs` pairs, sometimes sharing `master`'s field names.
    mutating func fields(master: [[UInt8]]?, maxPairs: Int) -> [[UInt8]] {
        if let master, chance(0.6) {
            return master.flatMap { [$0, bytes(maxLength: 40)] }
        }
        let pairs = int(0...maxPairs)
        var out: [[UInt8]] = []
        for _ in 0..<pairs {
            out.append(bytes(maxLength: 20))
            out.append(bytes(maxLength: 60))
        }
        return out
    }

    /// 1...maxCount entries with increasing IDs, as a block holds them.
    mutating func entries(maxCount: Int) -> [StreamEntry] {
        let ids = increasingIDs(int(1...maxCount), from: interestingID())
        var out: [StreamEntry] = []
        var master: [[UInt8]]? = nil
        for id in ids {
            let f = fields(master: master, maxPairs: 6)
            if master == nil { master = stride(from: 0, to: f.count, by: 2).map { f[$0] } }
            out.append(StreamEntry(id: id, fields: f))
        }
        return out
    }

    mutating func journalRecord() -> JournalFormat.Record {
        switch int(0...4) {
        case 0: return .entry(StreamEntry(id: interestingID(), fields: fields(master: nil, maxPairs: 5)))
        case 1: return .carry(StreamEntry(id: interestingID(), fields: fields(master: nil, maxPairs: 5)))
        case 2: return .delete((0..<int(0...6)).map { _ in interestingID() })
        case 3: return .trim(through: interestingID())
        default: return .setMeta(lastID: interestingID(), entriesAdded: interestingUInt64(), maxDeletedID: interestingID())
        }
    }

    mutating func checkpoint() -> StreamCheckpoint {
        StreamCheckpoint(journalGeneration: interestingUInt64(), lastID: interestingID(), entriesAdded: interestingUInt64(),
                         maxDeletedID: interestingID(), trimmedThrough: chance(0.5) ? interestingID() : nil,
                         droppedBlocks: increasingIDs(int(0...5), from: interestingID()),
                         tombstones: increasingIDs(int(0...40), from: interestingID()),
                         activeBlocks: chance(0.3) ? nil : activeBlocks(),
                         lastIDHighWater: chance(0.5) ? .zero : interestingID())
    }

    /// A checkpoint's list of active-segment blocks: frames back to back from the header,
    /// first IDs ascending (a repeated first ID is a reopened block sealed again).
    mutating func activeBlocks() -> StreamCheckpoint.ActiveSegmentBlocks {
        let firsts = increasingIDs(int(0...30), from: interestingID())
        var blocks: [SegmentFormat.FooterEntry] = []
        var offset = UInt64(SegmentFormat.headerSize)
        for (i, first) in firsts.enumerated() {
            let next = i + 1 < firsts.count ? firsts[i + 1] : StreamID.max
            let last = chance(0.5) ? first : (chance(0.5) ? next : StreamID.max)
            let frame = UInt32(int(SegmentFormat.blockHeaderSize...70_000))
            let count = UInt32(chance(0.1) ? Int(UInt32.max) : int(1...100))
            for _ in 0..<(chance(0.1) ? 2 : 1) {
                blocks.append(SegmentFormat.FooterEntry(offset: offset, frameLength: frame, count: count, firstID: first, lastID: last))
                offset += UInt64(frame)
            }
        }
        return .init(segment: interestingUInt64(), blocks: blocks)
    }
}

extension UInt64 {
    func clamped(to limit: UInt64) -> UInt64 { Swift.min(self, limit) }
}
