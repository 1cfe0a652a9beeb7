import Testing
import SpoolFormat
import SpoolIO
import TestSupport

/// Untrusted bytes never trap: thousands of seeded mutations and truncations of valid
/// encodings go to every decoder, which must return a value or throw a `FormatError` whose
/// offset lies within the input. A second pass repairs the checksums after mutating, so the
/// structural checks behind the CRCs are exercised too.
@Suite struct GarbageInputTests {
    static let rounds = 3000

    /// One random damage: bit flips, overwritten or inserted or deleted bytes, truncation,
    /// garbage appended, a slice duplicated.
    static func mutate(_ input: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var b = input
        for _ in 0..<rng.int(1...3) {
            switch rng.int(0...7) {
            case 0 where !b.isEmpty:
                b[rng.int(0...b.count - 1)] ^= UInt8(1) << UInt8(rng.int(0...7))
            case 1 where !b.isEmpty:
                b[rng.int(0...b.count - 1)] = [0x00, 0xFF, 0x7F, 0x80, 0x01][rng.int(0...4)]
            case 2:
                b.insert(contentsOf: (0..<rng.int(1...8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.int(0...b.count))
            case 3 where !b.isEmpty:
                let at = rng.int(0...b.count - 1)
                b.removeSubrange(at..<Swift.min(b.count, at + rng.int(1...16)))
            case 4:
                b = Array(b.prefix(rng.int(0...b.count)))
            case 5:
                b += (0..<rng.int(1...40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 6 where b.count > 4:
                let at = rng.int(0...b.count - 4)
                let len = rng.int(1...Swift.min(32, b.count - at))
                b.insert(contentsOf: b[at..<(at + len)], at: rng.int(0...b.count))
            default:
                // A varint-ish landmine: a long run of continuation bytes.
                if !b.isEmpty {
                    let at = rng.int(0...b.count - 1)
                    for i in at..<Swift.min(b.count, at + rng.int(1...12)) { b[i] = 0xFF }
                }
            }
        }
        return b
    }

    /// Damage confined to `region` of `input` (same length kept when `keepLength`).
    static func mutateInside(_ input: [UInt8], _ region: Range<Int>, _ rng: inout SeededRNG) -> [UInt8] {
        var b = input
        for _ in 0..<rng.int(1...4) {
            let i = rng.int(region.lowerBound...region.upperBound - 1)
            b[i] = rng.chance(0.5) ? b[i] ^ (UInt8(1) << UInt8(rng.int(0...7))) : UInt8(truncatingIfNeeded: rng.next())
        }
        return b
    }

    static func patchCRC(_ b: inout [UInt8], covering range: Range<Int>, at offset: Int) {
        let crc = CRC32C.checksum(b, range: range)
        for i in 0..<4 { b[offset + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
    }

    /// Runs `decode` and checks the outcome: a value, or an error within `0...limit`.
    static func expectSafe<T>(_ what: String, seed: Int, limit: Int, base: UInt64 = 0,
                              _ decode: () throws(FormatError) -> T) {
        do throws(FormatError) {
            _ = try decode()
        } catch {
            #expect(error.offset >= base && error.offset <= base + UInt64(limit),
                    "\(what) round \(seed): error offset \(error.offset) outside the input (0...\(limit)): \(error)")
        }
    }

    // MARK: Samples

    static func sampleBlocks(_ rng: inout SeededRNG) -> [[StreamEntry]] {
        (0..<8).map { _ in rng.entries(maxCount: 12) } + [FormatExamples.block1, FormatExamples.block2]
    }

    // MARK: Block payload

    @Test func blockPayloadDecoderSurvivesGarbage() {
        var rng = SeededRNG(seed: 0xBAD0)
        let blocks = Self.sampleBlocks(&rng)
        for round in 0..<Self.rounds {
            let entries = blocks[round % blocks.count]
            let raw = Self.mutate(BlockCodec.encode(entries), &rng)
            // A wrong count from a damaged header, too (including an absurd one).
            let count = rng.chance(0.8) ? entries.count : [0, 1, entries.count + 1, Int(UInt32.max), -1][rng.int(0...4)]
            raw.withUnsafeBytes { b in
                Self.expectSafe("block payload", seed: round, limit: b.count, base: 1000) { () throws(FormatError) in
                    try BlockCodec.decode(b, count: count, firstID: entries[0].id, file: "p", baseOffset: 1000)
                }
            }
        }
    }

    @Test func lz4DecompressorSurvivesGarbage() {
        var rng = SeededRNG(seed: 0x1244)
        let samples = Self.sampleBlocks(&rng).map { BlockCodec.encode($0) }.compactMap { raw in LZ4.compress(raw).map { (raw, $0) } }
        #expect(!samples.isEmpty)
        for round in 0..<Self.rounds {
            let (raw, compressed) = samples[round % samples.count]
            let damaged = Self.mutate(compressed, &rng)
            let rawLength = rng.chance(0.8) ? raw.count : rng.int(0...raw.count * 2)
            let out = damaged.withUnsafeBytes { LZ4.decompress($0, rawLength: rawLength) }
            if let out { #expect(out.count == rawLength) }
        }
    }

    // MARK: Segment

    @Test func segmentDecodersSurviveGarbage() {
        var rng = SeededRNG(seed: 0x5E65)
        let segment = FormatExamples.realSegment()
        let footerOffset = segment.count - SegmentFormat.trailerSize - 8 - 2 * SegmentFormat.footerEntrySize
        for round in 0..<Self.rounds {
            var b: [UInt8]
            switch round % 3 {
            case 0:
                b = Self.mutate(segment, &rng)
            case 1:
                // Damage the footer, then make both checksums right again.
                b = Self.mutateInside(segment, footerOffset..<(segment.count - SegmentFormat.trailerSize), &rng)
                let t = b.count - SegmentFormat.trailerSize
                Self.patchCRC(&b, covering: footerOffset..<t, at: t + 12)
                Self.patchCRC(&b, covering: t..<(t + 20), at: t + 20)
            default:
                // Damage the trailer's fields, then fix its checksum.
                let t = segment.count - SegmentFormat.trailerSize
                b = Self.mutateInside(segment, t..<(t + 16), &rng)
                Self.patchCRC(&b, covering: t..<(t + 20), at: t + 20)
            }
            b.withUnsafeBytes { bytes in
                Self.expectSafe("segment header", seed: round, limit: bytes.count) { () throws(FormatError) in
                    try SegmentFormat.decodeHeader(bytes, file: "s")
                }
                Self.expectSafe("segment footer", seed: round, limit: bytes.count) { () throws(FormatError) in
                    try SegmentFormat.decodeFooter(bytes, file: "s")
                }
                // Every position is a candidate frame header for a reader that scans.
                let at = rng.int(0...bytes.count)
                let rest = UnsafeRawBufferPointer(rebasing: bytes[at...])
                Self.expectSafe("block header", seed: round, limit: rest.count, base: UInt64(at)) { () throws(FormatError) in
                    try SegmentFormat.BlockHeader.decode(rest, file: "s", offset: UInt64(at))
                }
            }
        }
    }

    @Test func blockHeaderDecoderSurvivesRepairedGarbage() {
        var rng = SeededRNG(seed: 0xB4D)
        let segment = FormatExamples.realSegment()
        let frame = Array(segment[SegmentFormat.headerSize..<(SegmentFormat.headerSize + SegmentFormat.blockHeaderSize)])
        for round in 0..<Self.rounds {
            var b = Self.mutateInside(frame, 4..<64, &rng)
            Self.patchCRC(&b, covering: 0..<64, at: 64)
            b.withUnsafeBytes { bytes in
                Self.expectSafe("block header", seed: round, limit: bytes.count, base: 32) { () throws(FormatError) in
                    try SegmentFormat.BlockHeader.decode(bytes, file: "s", offset: 32)
                }
            }
        }
    }

    // MARK: Journal

    @Test func journalReaderSurvivesGarbage() {
        var rng = SeededRNG(seed: 0x7042)
        var w = ByteWriter()
        w.writeBytes(JournalFormat.encodeHeader(generation: 3))
        var starts: [Int] = []
        for _ in 0..<12 {
            starts.append(w.count)
            JournalFormat.encode(rng.journalRecord(), into: &w)
        }
        starts.append(w.count)
        let journal = FormatExamples.realJournal() + Array(w.bytes[JournalFormat.headerSize...])
        for round in 0..<Self.rounds {
            var b: [UInt8]
            if round % 2 == 0 {
                b = Self.mutate(journal, &rng)
            } else {
                // Damage one record's kind or body and fix its checksum: the body decoder
                // itself must reject or accept it.
                let k = rng.int(0...starts.count - 2)
                let start = starts[k] - JournalFormat.headerSize + FormatExamples.realJournal().count
                let end = starts[k + 1] - JournalFormat.headerSize + FormatExamples.realJournal().count
                b = Self.mutateInside(journal, (start + 8)..<end, &rng)
                Self.patchCRC(&b, covering: (start + 4)..<end, at: start)
            }
            b.withUnsafeBytes { bytes in
                Self.expectSafe("journal header", seed: round, limit: bytes.count) { () throws(FormatError) in
                    try JournalFormat.decodeHeader(bytes, file: "j")
                }
                var at = JournalFormat.headerSize
                while at <= bytes.count {
                    switch JournalFormat.read(bytes, at: at, file: "j") {
                    case .record(_, let next):
                        #expect(next > at && next <= bytes.count)
                        at = next
                        continue
                    case .end:
                        break
                    case .corrupt(let e):
                        #expect(e.offset >= UInt64(at) && e.offset <= UInt64(bytes.count), "journal round \(round): \(e)")
                    }
                    break
                }
            }
        }
    }

    // MARK: Checkpoint and name file

    @Test func checkpointDecoderSurvivesGarbage() {
        var rng = SeededRNG(seed: 0xC0DE)
        let samples = (0..<10).map { _ in rng.checkpoint().encode() } + [FormatExamples.checkpoint.encode()]
        for round in 0..<Self.rounds {
            let sample = samples[round % samples.count]
            var b = Self.mutate(sample, &rng)
            if round % 2 == 1 && b.count >= 4 {
                Self.patchCRC(&b, covering: 0..<(b.count - 4), at: b.count - 4)
            }
            b.withUnsafeBytes { bytes in
                Self.expectSafe("checkpoint", seed: round, limit: bytes.count) { () throws(FormatError) in
                    try StreamCheckpoint.decode(bytes, file: "state")
                }
            }
        }
    }

    @Test func nameFileDecoderSurvivesGarbage() {
        var rng = SeededRNG(seed: 0x4A4E)
        let samples = (0..<10).map { _ in StreamNameFile(name: rng.bytes(maxLength: 50), generation: rng.interestingUInt64()).encode() }
        for round in 0..<Self.rounds {
            var b = Self.mutate(samples[round % samples.count], &rng)
            if round % 2 == 1 && b.count >= 4 {
                Self.patchCRC(&b, covering: 0..<(b.count - 4), at: b.count - 4)
            }
            b.withUnsafeBytes { bytes in
                Self.expectSafe("name file", seed: round, limit: bytes.count) { () throws(FormatError) in
                    try StreamNameFile.decode(bytes, file: "name")
                }
            }
        }
    }

    /// The rejections a reader must make, each at the offset FORMAT.md names.
    @Test func specificRejectionsNameTheirOffset() throws {
        func error(_ bytes: [UInt8], _ decode: (UnsafeRawBufferPointer) throws(FormatError) -> Void) -> FormatError? {
            bytes.withUnsafeBytes { b in
                do throws(FormatError) { try decode(b); return nil } catch { return error }
            }
        }
        // Unknown version and flags: offsets 8 and 10 in every file with the common header.
        var seg = SegmentFormat.encodeHeader(number: 1)
        seg[8] = 2
        #expect(error(seg) { (b) throws(FormatError) in _ = try SegmentFormat.decodeHeader(b, file: "s") }?.offset == 8)
        seg = SegmentFormat.encodeHeader(number: 1)
        seg[10] = 1
        #expect(error(seg) { (b) throws(FormatError) in _ = try SegmentFormat.decodeHeader(b, file: "s") }?.offset == 10)
        seg = SegmentFormat.encodeHeader(number: 1)
        seg[20] ^= 1
        #expect(error(seg) { (b) throws(FormatError) in _ = try SegmentFormat.decodeHeader(b, file: "s") }?.offset == 24)

        var name = StreamNameFile(name: Array("orders".utf8), generation: 1).encode()
        name[10] = 1
        Self.patchCRC(&name, covering: 0..<(name.count - 4), at: name.count - 4)
        #expect(error(name) { (b) throws(FormatError) in _ = try StreamNameFile.decode(b, file: "n") }?.offset == 10)

        var state = FormatExamples.checkpoint.encode()
        state[64] = 2
        Self.patchCRC(&state, covering: 0..<(state.count - 4), at: state.count - 4)
        #expect(error(state) { (b) throws(FormatError) in _ = try StreamCheckpoint.decode(b, file: "c") }?.offset == 64)

        // Footer whose own block count disagrees with the trailer's (checksums repaired).
        var segment = FormatExamples.realSegment()
        let t = segment.count - SegmentFormat.trailerSize
        let footerOffset = t - 8 - 2 * SegmentFormat.footerEntrySize
        segment[footerOffset + 4] = 3
        Self.patchCRC(&segment, covering: footerOffset..<t, at: t + 12)
        Self.patchCRC(&segment, covering: t..<(t + 20), at: t + 20)
        #expect(error(segment) { (b) throws(FormatError) in _ = try SegmentFormat.decodeFooter(b, file: "s") }?.offset == UInt64(footerOffset + 4))

        // Unknown journal record kind: the error names the kind byte.
        var rec = JournalFormat.encode(.trim(through: StreamID(1, 2)))
        rec[8] = 9
        Self.patchCRC(&rec, covering: 4..<rec.count, at: 0)
        let journal = JournalFormat.encodeHeader(generation: 1) + rec
        journal.withUnsafeBytes { b in
            guard case .corrupt(let e) = JournalFormat.read(b, at: 32, file: "j") else { Issue.record("kind 9 accepted"); return }
            #expect(e.offset == 40)
        }
    }
}
