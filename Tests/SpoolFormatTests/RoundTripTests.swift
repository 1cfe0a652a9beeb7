import Testing
import SpoolFormat
import SpoolIO
import TestSupport

/// Encode → decode gives back the value, for every codec, over random and extreme values.
@Suite struct RoundTripTests {
    // MARK: Varints

    /// Every boundary of the 1…10-byte encodings: 2^(7k) - 1 takes k bytes, 2^(7k) takes k + 1.
    @Test func varintsAtEveryBoundary() throws {
        var values: [(UInt64, Int)] = [(0, 1), (.max, 10), (UInt64(1) << 63, 10), ((UInt64(1) << 63) - 1, 9)]
        for k in 1...9 {
            let edge = UInt64(1) << UInt64(7 * k)
            values.append((edge - 1, k))
            values.append((edge, k + 1))
            values.append((edge + 1, k + 1))
        }
        for (v, size) in values {
            var w = ByteWriter()
            w.writeVarint(v)
            #expect(w.bytes.count == size, "\(v) takes \(w.bytes.count) bytes, expected \(size)")
            #expect(ByteWriter.varintSize(v) == size)
            #expect(w.bytes.last! & 0x80 == 0)
            #expect(w.bytes.dropLast().allSatisfy { $0 & 0x80 != 0 })
            let back = try w.bytes.withBytes { (b) throws(FormatError) in
                var r = ByteReader(b, file: "v")
                let x = try r.readVarint()
                #expect(r.isAtEnd)
                return x
            }
            #expect(back == v)
        }
    }

    /// ByteReader's random access (what a trailer, a footer or an index points at) throws for
    /// every range that leaves the bytes, whatever the offset and count (negative, past the end,
    /// large enough to overflow), naming the absolute offset; in range it reads what is there.
    @Test func randomAccessStaysInside() throws {
        let bytes: [UInt8] = Array(0..<16)
        try bytes.withBytes { (b) throws(FormatError) in
            let r = ByteReader(b, file: "f", baseOffset: 1000)
            #expect(try r.uint32(at: 12) == 0x0F0E_0D0C)
            #expect(try r.uint64(at: 0) == 0x0706_0504_0302_0100)
            #expect(Array(try r.view(at: 16, count: 0)) == [])
            var sub = try r.reader(at: 4, count: 4)
            #expect(try sub.readUInt8() == 4 && sub.remaining == 3)
            #expect(sub.error("x").offset == 1005)
            for (offset, count) in [(-1, 1), (0, -1), (13, 4), (16, 1), (17, 0), (1, Int.max), (Int.max, 1), (Int.min, 2)] {
                do throws(FormatError) {
                    _ = try r.view(at: offset, count: count)
                    Issue.record("view(at: \(offset), count: \(count)) of 16 bytes accepted")
                } catch {
                    #expect(error.offset >= 1000)
                }
            }
            do throws(FormatError) { _ = try r.uint64(at: 9); Issue.record("u64 at 9 of 16 read") } catch {}
            var c = r
            #expect(Array(try c.readView(3)) == [0, 1, 2] && c.offset == 3)
            do throws(FormatError) { _ = try c.readView(14); Issue.record("14 bytes read of 13") } catch { #expect(c.offset == 3) }
        }
    }

    /// The numbered names of a data directory follow one rule: prefix, exactly 16 hex digits,
    /// suffix; anything else (a sign, a short or long number, another suffix) means nothing.
    @Test func numberedNamesFollowOneRule() {
        for n: UInt64 in [0, 1, 0xABCDEF, .max] {
            #expect(SegmentFormat.number(fromFileName: SegmentFormat.fileName(n)) == n)
            #expect(JournalFormat.generation(fromFileName: JournalFormat.fileName(n)) == n)
            #expect(GroupJournalFormat.generation(fromFileName: GroupJournalFormat.fileName(n)) == n)
        }
        #expect(SegmentFormat.fileName(26) == "000000000000001a.seg")
        #expect(SegmentFormat.number(fromFileName: "000000000000001A.seg") == 26)
        for bad in ["+00000000000001a.seg", "00000000000001a.seg", "0000000000000001a.seg", "000000000000001g.seg",
                    "000000000000001a.log", "journal-000000000000001a.seg", " 00000000000001a.seg"] {
            #expect(SegmentFormat.number(fromFileName: bad) == nil, "\(bad)")
        }
        #expect(JournalFormat.generation(fromFileName: "journal-+000000000000001.log") == nil)
        #expect(GroupJournalFormat.generation(fromFileName: "journal-0000000000000001.log") == nil)
    }

    @Test func varintEdgeEncodings() throws {
        func read(_ bytes: [UInt8]) -> Result<UInt64, FormatError> {
            bytes.withUnsafeBytes { b in
                var r = ByteReader(b, file: "v", baseOffset: 100)
                do throws(FormatError) { return .success(try r.readVarint()) } catch { return .failure(error) }
            }
        }
        // Non-minimal encodings are read (writers never produce them).
        #expect(try read([0x80, 0x00]).get() == 0)
        #expect(try read([0xFF, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).get() == 127)
        // The 10th byte may only carry bit 63.
        #expect(try read([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).get() == .max)
        for tenth: UInt8 in [0x02, 0x7F, 0x81, 0xFF] {
            guard case .failure(let e) = read([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, tenth]) else {
                Issue.record("10th byte \(tenth) accepted"); continue
            }
            #expect(e.offset == 100, "error names the varint's first byte")
        }
        // Truncated.
        for bytes: [UInt8] in [[], [0x80], [0xFF, 0xFF]] {
            guard case .failure(let e) = read(bytes) else { Issue.record("truncated \(bytes) accepted"); continue }
            #expect(e.offset == 100)
        }
    }

    @Test func fixedWidthIntegersAreLittleEndian() {
        var w = ByteWriter()
        w.writeUInt16(0x0102)
        w.writeUInt32(0x0304_0506)
        w.writeUInt64(0x0708_090A_0B0C_0D0E)
        w.writeFixedID(StreamID(1, 2))
        #expect(w.bytes == [0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07,
                            1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    }

    // MARK: Block payload

    @Test func blockPayloadRandomEntries() throws {
        var rng = SeededRNG(seed: 0xB10C)
        for round in 0..<1500 {
            let entries = rng.entries(maxCount: 40)
            let raw = BlockCodec.encode(entries)
            let back = try raw.withBytes { (b) throws(FormatError) in
                try BlockCodec.decode(b, count: entries.count, firstID: entries[0].id, file: "round \(round)")
            }
            #expect(back == entries, "round \(round)")
            // LZ4 round trip of the same payload.
            if let c = LZ4.compress(raw) {
                #expect(c.count < raw.count)
                let d = c.withUnsafeBytes { LZ4.decompress($0, rawLength: raw.count) }
                #expect(d == raw)
            }
        }
    }

    @Test func blockPayloadIDsAtTheExtremes() throws {
        let runs: [[StreamID]] = [
            [.zero, StreamID(0, 1), StreamID(0, .max), StreamID(1, 0), StreamID(.max, 0), StreamID(.max, .max - 1), .max],
            [StreamID(0, .max), StreamID(.max, .max)],
            [.max],
            [.zero],
            [StreamID(5, .max), StreamID(6, .max)],
        ]
        for ids in runs {
            let entries = ids.enumerated().map { StreamEntry(id: $1, fields: $0 % 2 == 0 ? [[], []] : [[0], [0xFF]]) }
            let raw = BlockCodec.encode(entries)
            let back = try raw.withBytes { (b) throws(FormatError) in
                try BlockCodec.decode(b, count: entries.count, firstID: ids[0], file: "x")
            }
            #expect(back == entries)
        }
    }

    /// The same-fields flag is used exactly when an entry's field names equal the master's.
    @Test func blockPayloadUsesMasterFields() {
        let a = StreamEntry(id: StreamID(1, 0), fields: [[1], [2], [3], [4]])
        let same = StreamEntry(id: StreamID(1, 1), fields: [[1], [9], [3], [9]])
        let reordered = StreamEntry(id: StreamID(1, 2), fields: [[3], [9], [1], [9]])
        let raw = BlockCodec.encode([a, same, reordered])
        // master: 02 01 01 01 03; a: 01 00 00 01 02 01 04; same: 01 00 01 01 09 01 09;
        // reordered: 00 00 01 02 01 03 01 09 01 01 01 09
        #expect(raw == [2, 1, 1, 1, 3,
                        1, 0, 0, 1, 2, 1, 4,
                        1, 0, 1, 1, 9, 1, 9,
                        0, 0, 1, 2, 1, 3, 1, 9, 1, 1, 1, 9])
    }

    // MARK: Segment

    @Test func segmentHeaderFooterAndBlockHeader() throws {
        var rng = SeededRNG(seed: 0x5E6)
        for _ in 0..<500 {
            let number = rng.interestingUInt64()
            let header = SegmentFormat.encodeHeader(number: number)
            #expect(header.count == SegmentFormat.headerSize)
            #expect(try header.withBytes { (b) throws(FormatError) in try SegmentFormat.decodeHeader(b, file: "s") } == number)

            let entries = rng.entries(maxCount: 5)
            let bh = SegmentFormat.BlockHeader(
                codec: rng.chance(0.5) ? .lz4 : .none, firstID: entries[0].id, lastID: entries[entries.count - 1].id,
                count: UInt32(entries.count), rawLength: UInt32(rng.int(0...1 << 20)), storedLength: 0,
                payloadCRC: UInt32(truncatingIfNeeded: rng.next()), entriesAdded: rng.interestingUInt64())
            var h = bh
            if h.codec == .none { h.storedLength = h.rawLength } else { h.storedLength = UInt32(rng.int(0...1 << 20)) }
            let hb = h.encode()
            #expect(hb.count == SegmentFormat.blockHeaderSize)
            #expect(try hb.withBytes { (b) throws(FormatError) in try SegmentFormat.BlockHeader.decode(b, file: "s", offset: 32) } == h)

            var footer: [SegmentFormat.FooterEntry] = []
            var offset = UInt64(SegmentFormat.headerSize)
            var start = rng.interestingID()
            for _ in 0..<rng.int(0...20) {
                let ids = rng.increasingIDs(rng.int(1...3), from: start)
                guard let last = ids.last, let next = last.successor else { break }
                let len = UInt32(rng.int(SegmentFormat.blockHeaderSize...5000))
                footer.append(SegmentFormat.FooterEntry(offset: offset, frameLength: len, count: UInt32(rng.int(1...100)), firstID: ids[0], lastID: last))
                offset += UInt64(len)
                start = next
            }
            // A file whose frames are filler: decodeFooter reads only the footer and trailer.
            var file = header + [UInt8](repeating: 0xAB, count: Int(offset) - SegmentFormat.headerSize)
            file += SegmentFormat.encodeFooter(footer, footerOffset: offset)
            let back = try file.withBytes { (b) throws(FormatError) in try SegmentFormat.decodeFooter(b, file: "s") }
            #expect(back?.entries == footer)
            #expect(back?.footerOffset == offset)
        }
    }

    @Test func fileNames() {
        for n: UInt64 in [0, 1, 0xABCDEF, .max] {
            #expect(SegmentFormat.number(fromFileName: SegmentFormat.fileName(n)) == n)
            #expect(JournalFormat.generation(fromFileName: JournalFormat.fileName(n)) == n)
        }
        #expect(SegmentFormat.fileName(1) == "0000000000000001.seg")
        #expect(JournalFormat.fileName(0x2A) == "journal-000000000000002a.log")
        #expect(SegmentFormat.number(fromFileName: "1.seg") == nil)
        #expect(SegmentFormat.number(fromFileName: "000000000000000g.seg") == nil)
        #expect(JournalFormat.generation(fromFileName: "journal-1.log") == nil)
    }

    // MARK: Journal

    @Test func journalRecordsOfEveryKind() throws {
        var rng = SeededRNG(seed: 0x10A)
        var w = ByteWriter()
        w.writeBytes(JournalFormat.encodeHeader(generation: 7))
        var records: [JournalFormat.Record] = [
            .entry(StreamEntry(id: .max, fields: [[], []])),
            .carry(StreamEntry(id: .zero, fields: [])),
            .delete([]),
            .delete([.zero, .max]),
            .trim(through: .max),
            .setMeta(lastID: .max, entriesAdded: .max, maxDeletedID: .max),
        ]
        for _ in 0..<2000 { records.append(rng.journalRecord()) }
        var ends: [Int] = []
        for r in records {
            JournalFormat.encode(r, into: &w)
            ends.append(w.count)
            // ENTRY and CARRY records are written in place: the same bytes as framing them
            // field by field (FORMAT.md §5).
            if case .entry(let e) = r { #expect(JournalFormat.encode(r) == Self.framedEntry(e, kind: 1)) }
            if case .carry(let e) = r { #expect(JournalFormat.encode(r) == Self.framedEntry(e, kind: 2)) }
        }
        let bytes = w.bytes
        try bytes.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws -> Void in
            #expect(try JournalFormat.decodeHeader(b, file: "j") == 7)
            var at = JournalFormat.headerSize
            var back: [JournalFormat.Record] = []
            loop: while true {
                switch JournalFormat.read(b, at: at, file: "j") {
                case .record(let r, let next): back.append(r); at = next
                case .end: break loop
                case .corrupt(let e): Issue.record("\(e)"); break loop
                }
            }
            #expect(back == records)
            #expect(at == b.count)
        }
        // Every cut inside the last record is a torn tail (`.end`), never a record or an error.
        let lastStart = ends[ends.count - 2]
        for cut in lastStart..<bytes.count {
            bytes[0..<cut].withUnsafeBytes { b in
                guard case .end = JournalFormat.read(b, at: lastStart, file: "j") else {
                    Issue.record("cut at \(cut) not read as a torn tail"); return
                }
            }
        }
    }

    /// An ENTRY/CARRY record built with the framing primitives, field by field.
    static func framedEntry(_ e: StreamEntry, kind: UInt8) -> [UInt8] {
        var w = ByteWriter()
        let start = FileFraming.beginRecord(&w, kind: kind)
        w.writeID(e.id)
        w.writeVarint(UInt64(e.pairCount))
        for f in e.fields { w.writeLengthPrefixed(f) }
        FileFraming.finishRecord(&w, start: start)
        return w.bytes
    }

    // MARK: Checkpoint and name file

    @Test func checkpointRoundTrip() throws {
        var rng = SeededRNG(seed: 0xC4EC)
        var cases = [
            StreamCheckpoint(journalGeneration: 0, lastID: .zero, entriesAdded: 0, maxDeletedID: .zero,
                             trimmedThrough: nil, droppedBlocks: [], tombstones: []),
            StreamCheckpoint(journalGeneration: .max, lastID: .max, entriesAdded: .max, maxDeletedID: .max,
                             trimmedThrough: .max, droppedBlocks: [.zero, StreamID(0, .max), .max],
                             tombstones: [StreamID(0, 1), StreamID(.max, 0), StreamID(.max, .max)]),
            StreamCheckpoint(journalGeneration: 1, lastID: .zero, entriesAdded: 0, maxDeletedID: .zero,
                             trimmedThrough: .zero, droppedBlocks: [], tombstones: []),
        ]
        for _ in 0..<1000 { cases.append(rng.checkpoint()) }
        for c in cases {
            let bytes = c.encode()
            let back = try bytes.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") }
            #expect(back == c)
        }
    }

    /// Versions 1 and 2 are still read: a version-2 file is a version-3 one without the last-ID
    /// high-water mark (read as 0-0), a version-1 file also without the active block list.
    @Test func olderCheckpointVersionsAreRead() throws {
        var rng = SeededRNG(seed: 0x57A7)
        for _ in 0..<300 {
            var c = rng.checkpoint()
            let v3 = c.encode()
            var v2 = Array(v3[..<(v3.count - 4 - 16)])
            v2[8] = 2
            v2 += withUnsafeBytes(of: CRC32C.checksum(v2).littleEndian) { Array($0) }
            c.lastIDHighWater = .zero
            #expect(try v2.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") } == c)
            if c.activeBlocks == nil {
                var v1 = Array(v2[..<(v2.count - 4 - 1)])
                v1[8] = 1
                v1 += withUnsafeBytes(of: CRC32C.checksum(v1).littleEndian) { Array($0) }
                #expect(try v1.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") } == c)
            }
        }
    }

    @Test func nameFileRoundTrip() throws {
        var rng = SeededRNG(seed: 0x4A3E)
        var cases = [StreamNameFile(name: [], generation: 0), StreamNameFile(name: [0, 0xFF, 0x2F], generation: .max)]
        for _ in 0..<500 { cases.append(StreamNameFile(name: rng.bytes(maxLength: 300), generation: rng.interestingUInt64())) }
        for c in cases {
            let bytes = c.encode()
            #expect(bytes.count == 32 + c.name.count)
            #expect(try bytes.withBytes { (b) throws(FormatError) in try StreamNameFile.decode(b, file: "name") } == c)
        }
    }
}
