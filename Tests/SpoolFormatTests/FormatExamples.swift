import SpoolFormat
import SpoolIO
import TestSupport

/// The worked examples of FORMAT.md: the values they hold, the bytes the real encoders make of
/// them, and an annotating writer that follows FORMAT.md's grammar (a second, independent
/// encoder) and prints the annotated hex blocks that FORMAT.md shows.
///
/// FORMAT.md's example blocks are fenced as ```` ```hex <name> ````, one line per field:
/// `OFFSET  BYTE BYTE …  comment`. OFFSET is the hex offset of the line's first byte; the
/// bytes are two-digit hex tokens; the comment starts at the first other token.
enum FormatExamples {
    /// Names of the example blocks, in FORMAT.md order.
    static let names = ["segment", "journal", "state", "name", "store-journal", "groups", "state-v4"]

    static func id(_ ms: UInt64, _ seq: UInt64) -> StreamID { StreamID(ms, seq) }

    static func order(_ id: StreamID, _ orderID: String, _ amount: String, _ region: String, _ ts: String) -> StreamEntry {
        StreamEntry(id: id, pairs: [("orderId", orderID), ("totalAmount", amount), ("region", region),
                                    ("eventType", "OrderPlaced"), ("timestamp", ts)])
    }

    /// Block 1 (stored raw): the chapter's entry, a second order and a shipping event with
    /// other fields (so it cannot use the master fields).
    static let block1: [StreamEntry] = [
        order(id(1_699_958_537_443, 0), "ord-7829", "149.99", "us-east-1", "1699958537443"),
        order(id(1_699_958_537_443, 1), "ord-7830", "23.50", "eu-west-1", "1699958537443"),
        StreamEntry(id: id(1_699_958_537_501, 0), pairs: [("orderId", "ord-7829"), ("eventType", "OrderShipped"), ("carrier", "UPS")]),
    ]
    /// Block 2 (LZ4): four similar orders, which compress.
    static let block2: [StreamEntry] = [
        order(id(1_699_958_538_000, 0), "ord-7831", "75.00", "us-east-1", "1699958538000"),
        order(id(1_699_958_538_000, 1), "ord-7832", "75.00", "us-east-1", "1699958538000"),
        order(id(1_699_958_538_000, 2), "ord-7833", "12.25", "us-east-1", "1699958538000"),
        order(id(1_699_958_538_001, 0), "ord-7834", "75.00", "us-east-1", "1699958538001"),
    ]
    /// `(entries, entriesAdded after the block, compress)`.
    static let blocks: [([StreamEntry], UInt64, Bool)] = [(block1, 3, false), (block2, 7, true)]
    static let segmentNumber: UInt64 = 1

    /// The journal of generation 2: the checkpoint carried the open block's entry, then an
    /// XADD, an XDEL, an XTRIM MINID and an XSETID followed.
    static let carried = order(id(1_699_958_539_000, 0), "ord-7835", "5.00", "us-east-1", "1699958539000")
    static let journalGeneration: UInt64 = 2
    static let journalRecords: [JournalFormat.Record] = [
        .carry(carried),
        .entry(StreamEntry(id: id(1_699_958_539_000, 1), pairs: [("orderId", "ord-7835"), ("eventType", "OrderCancelled")])),
        .delete([id(1_699_958_537_443, 0), id(1_699_958_538_000, 2)]),
        .trim(through: id(1_699_958_537_443, 1)),
        .setMeta(lastID: id(1_699_958_540_000, 0), entriesAdded: 9, maxDeletedID: id(1_699_958_538_000, 2)),
    ]

    /// The checkpoint that starts journal generation 2, taken while segment 1 was still the
    /// active segment with its two blocks (it was sealed later).
    static let checkpoint = StreamCheckpoint(
        journalGeneration: 2, lastID: id(1_699_958_539_000, 0), entriesAdded: 8,
        maxDeletedID: id(1_699_958_538_000, 1), trimmedThrough: nil,
        droppedBlocks: [],
        tombstones: [id(1_699_958_537_443, 1), id(1_699_958_538_000, 0), id(1_699_958_538_000, 1)],
        activeBlocks: .init(segment: segmentNumber, blocks: realSegmentParts().footer))

    /// The stream directory's name file.
    static let nameFile = StreamNameFile(name: Array("orders".utf8), generation: 1)

    // The store journal (format 2): two streams' records and a consumer group's.
    static let storeJournalNumber: UInt64 = 3
    static let orders = StreamKey(database: 0, number: 1)
    static let audit = StreamKey(database: 2, number: 7)
    static let delivered = GroupJournalFormat.Delivery(group: Array("billing".utf8), consumer: Array("alice".utf8),
                                                      seenMs: 1_699_958_541_000, activeMs: 1_699_958_541_000,
                                                      cursor: .init(lastID: id(1_699_958_540_000, 0), entriesRead: 9),
                                                      timeMs: 1_699_958_541_000, items: [.init(id(1_699_958_540_000, 0), 1)])
    static let storeJournalRecords: [(StreamKey, JournalFormat.Record)] = [
        (orders, .entry(order(id(1_699_958_540_000, 0), "ord-7836", "42.00", "eu-west-1", "1699958540000"))),
        (audit, .entry(StreamEntry(id: id(5, 1), fields: [Array("who".utf8), Array("ops".utf8)]))),
        (orders, .group(.createGroup(name: Array("billing".utf8), cursor: .init(lastID: id(1_699_958_539_000, 0), entriesRead: 8)))),
        (orders, .group(.deliver(delivered))),
    ]
    /// The `state` of `orders` (format 2) as a checkpoint just before those records would
    /// write it: its records start at the first one (file 3, offset 32), its tail block
    /// empty, its last segment sealed.
    static let checkpointV4 = StreamCheckpoint(
        position: JournalPosition(file: storeJournalNumber, offset: UInt64(JournalFormat.headerSize)),
        lastID: id(1_699_958_539_000, 0), entriesAdded: 8, maxDeletedID: id(1_699_958_538_000, 1), trimmedThrough: nil,
        droppedBlocks: [], tombstones: [id(1_699_958_538_000, 1)], activeBlocks: nil)

    /// The group checkpoint a retirement would write after those records (the journal's end).
    static let groupCheckpoint = GroupCheckpoint(position: JournalPosition(file: storeJournalNumber, offset: UInt64(realStoreJournal().count)), groups: [
        .init(name: Array("billing".utf8), cursor: .init(lastID: id(1_699_958_540_000, 0), entriesRead: 9), maxDeliveries: 0,
              deadLetterStream: [], deadLettered: 0,
              consumers: [.init(name: Array("alice".utf8), seenTime: 1_699_958_541_000, activeTime: 1_699_958_541_000)],
              pending: [.init(id: id(1_699_958_540_000, 0), consumer: 0, deliveryTime: 1_699_958_541_000, deliveryCount: 1)]),
    ])

    // MARK: Bytes from the real encoders

    /// The stored payload of each example block (LZ4 output or the raw payload).
    static func storedPayload(_ entries: [StreamEntry], compress: Bool) -> (SegmentFormat.Codec, raw: [UInt8], stored: [UInt8]) {
        let raw = BlockCodec.encode(entries)
        if compress, let c = LZ4.compress(raw) { return (.lz4, raw, c) }
        return (.none, raw, raw)
    }

    /// What the engine's segment writer produces: header, frames, footer and trailer.
    static func realSegment() -> [UInt8] { realSegmentParts().bytes }

    static func realSegmentParts() -> (bytes: [UInt8], footer: [SegmentFormat.FooterEntry]) {
        var out = SegmentFormat.encodeHeader(number: segmentNumber)
        var footer: [SegmentFormat.FooterEntry] = []
        for (entries, added, compress) in blocks {
            let (codec, raw, stored) = storedPayload(entries, compress: compress)
            let header = SegmentFormat.BlockHeader(
                codec: codec, firstID: entries[0].id, lastID: entries[entries.count - 1].id, count: UInt32(entries.count),
                rawLength: UInt32(raw.count), storedLength: UInt32(stored.count), payloadCRC: CRC32C.checksum(stored),
                entriesAdded: added)
            footer.append(SegmentFormat.FooterEntry(header, at: UInt64(out.count)))
            out += header.encode()
            out += stored
        }
        out += SegmentFormat.encodeFooter(footer, footerOffset: UInt64(out.count))
        return (out, footer)
    }

    static func realJournal() -> [UInt8] {
        var w = ByteWriter()
        w.writeBytes(JournalFormat.encodeHeader(generation: journalGeneration))
        for r in journalRecords { JournalFormat.encode(r, into: &w) }
        return w.bytes
    }

    static func real(_ name: String) -> [UInt8] {
        switch name {
        case "segment": realSegment()
        case "journal": realJournal()
        case "state": checkpoint.encode()
        case "name": nameFile.encode()
        case "store-journal": realStoreJournal()
        case "groups": groupCheckpoint.encode()
        case "state-v4": checkpointV4.encode()
        default: []
        }
    }

    static func realStoreJournal() -> [UInt8] {
        var w = ByteWriter()
        w.writeBytes(JournalFormat.encodeStoreHeader(number: storeJournalNumber))
        for (k, r) in storeJournalRecords { JournalFormat.encode(r, key: k, into: &w) }
        return w.bytes
    }

    // MARK: The annotating writer (follows FORMAT.md, not the encoders)

    static func annotated(_ name: String) -> AnnotatedDump {
        switch name {
        case "segment": annotatedSegment()
        case "journal": annotatedJournal()
        case "state": annotatedCheckpoint(checkpoint)
        case "state-v4": annotatedCheckpoint(checkpointV4)
        case "store-journal": annotatedStoreJournal()
        case "groups": annotatedGroupCheckpoint()
        default: annotatedName()
        }
    }

    static func cursor(_ c: GroupJournalFormat.Cursor, into d: inout AnnotatedDump) {
        d.varintID(c.lastID, "cursor: last-delivered ID")
        d.varint(c.entriesRead.map { $0 + 1 } ?? 0, "entries-read \(c.entriesRead.map(String.init) ?? "unknown") (+ 1)")
    }

    static func annotatedStoreJournal() -> AnnotatedDump {
        var d = AnnotatedDump()
        d.journalHeader(version: 2, "version 2 (the store journal)", number: storeJournalNumber, "file number 3 (journal/0000000000000003.log)")
        for (key, r) in storeJournalRecords {
            var body = AnnotatedDump()
            let hex = String(key.number, radix: 16)
            let stream = "db\(key.database)/s" + String(repeating: "0", count: 16 - hex.count) + hex
            switch r {
            case .entry(let e):
                body.u8(1, "kind 1: ENTRY")
                body.varint(UInt64(key.database), "database \(key.database)")
                body.varint(key.number, "stream \(key.number) (\(stream))")
                body.entry(e)
            case .group(.createGroup(let name, let c)):
                body.u8(17, "kind 17: GROUP createGroup (16 + 1)")
                body.varint(UInt64(key.database), "database \(key.database)")
                body.varint(key.number, "stream \(key.number) (\(stream))")
                body.string(name, "group")
                cursor(c, into: &body)
            case .group(.deliver(let g)):
                body.u8(22, "kind 22: GROUP deliver (16 + 6)")
                body.varint(UInt64(key.database), "database \(key.database)")
                body.varint(key.number, "stream \(key.number) (\(stream))")
                body.string(g.group, "group")
                body.string(g.consumer, "consumer")
                body.varint(g.seenMs, "seen-time ms")
                body.varint(g.activeMs.map { $0 + 1 } ?? 0, "active-time ms + 1")
                body.u8(g.cursor == nil ? 0 : 1, g.cursor == nil ? "no cursor" : "has cursor")
                if let c = g.cursor { cursor(c, into: &body) }
                body.varint(g.timeMs, "delivery time ms")
                body.varint(UInt64(g.items.count), "items \(g.items.count)")
                for item in g.items {
                    body.varintID(item.id, "pending entry")
                    body.varint(item.count, "delivery count \(item.count)")
                }
            default:
                preconditionFailure("no such record in the example")
            }
            d.record(body, covering: "kind, key, body")
        }
        return d
    }

    static func annotatedGroupCheckpoint() -> AnnotatedDump {
        let c = groupCheckpoint
        var d = AnnotatedDump()
        d.preamble("SPOOLGRP", "group checkpoint magic", version: 2, "version 2 (names a store journal position)")
        d.u64(c.journalGeneration, "journal file \(c.journalGeneration)")
        d.u64(c.journalOffset!, "journal offset \(c.journalOffset!) (its end: every GROUP record before it is folded in)")
        d.varint(UInt64(c.groups.count), "group count \(c.groups.count)")
        for g in c.groups {
            d.string(g.name, "group")
            cursor(g.cursor, into: &d)
            d.varint(g.maxDeliveries, "max deliveries \(g.maxDeliveries) (dead-lettering off)")
            d.string(g.deadLetterStream, "dead-letter stream")
            d.varint(g.deadLettered, "dead-lettered \(g.deadLettered)")
            d.varint(UInt64(g.consumers.count), "consumer count \(g.consumers.count)")
            for co in g.consumers {
                d.string(co.name, "consumer")
                d.varint(co.seenTime, "seen-time ms")
                d.varint(co.activeTime.map { $0 + 1 } ?? 0, "active-time ms + 1")
            }
            d.varint(UInt64(g.pending.count), "pending count \(g.pending.count)")
            var prev = StreamID.zero
            for p in g.pending {
                let msDelta = p.id.ms - prev.ms
                d.varint(msDelta, "pending \(p.id): ms delta \(msDelta)")
                d.varint(msDelta == 0 ? p.id.seq - prev.seq : p.id.seq, msDelta == 0 ? "seq delta" : "seq \(p.id.seq) (ms changed)")
                d.varint(UInt64(p.consumer), "consumer index \(p.consumer)")
                d.varint(p.deliveryTime, "delivery time ms")
                d.varint(p.deliveryCount, "delivery count \(p.deliveryCount)")
                prev = p.id
            }
        }
        d.crc(0..<d.count, "CRC-32C of bytes 0x00-0x\(String(d.count - 1, radix: 16))")
        return d
    }

    static func annotatedSegment() -> AnnotatedDump {
        var d = AnnotatedDump()
        d.preamble("SPOOLSEG", "segment magic", version: 1, "version 1")
        d.u64(segmentNumber, "segment number 1 (file 0000000000000001.seg)")
        d.crc(0..<24, "CRC-32C of bytes 0x00-0x17")
        d.u32(0, "padding")
        var footer: [(offset: Int, frame: Int, count: Int, first: StreamID, last: StreamID)] = []
        for (index, (entries, added, compress)) in blocks.enumerated() {
            let raw = annotatedPayload(entries)
            let (codec, _, stored) = storedPayload(entries, compress: compress)
            let start = d.count
            d.note("block \(index + 1): frame header")
            d.ascii("SBLK", "block magic")
            d.u8(codec.rawValue, codec == .none ? "codec 0: stored raw" : "codec 1: LZ4 block")
            d.raw([0, 0, 0], "padding")
            d.fixedID(entries[0].id, "first ID")
            d.fixedID(entries[entries.count - 1].id, "last ID")
            d.u32(UInt32(entries.count), "entry count \(entries.count)")
            d.u32(UInt32(raw.bytes.count), "raw payload length \(raw.bytes.count)")
            d.u32(UInt32(stored.count), "stored payload length \(stored.count)")
            d.u32(crc32cReference(stored), "CRC-32C of the stored payload" + String(format8: crc32cReference(stored)))
            d.u64(added, "entries-added after this block: \(added)")
            d.crc(start..<(start + 64), "CRC-32C of frame bytes 0-63")
            d.u32(0, "padding")
            if codec == .none {
                d.note("block \(index + 1): payload (raw)")
                d.append(raw, base: d.count)
            } else {
                d.note("block \(index + 1): payload (LZ4 sequences; decompresses to the \(raw.bytes.count) raw bytes)")
                d.lz4(stored)
            }
            footer.append((start, d.count - start, entries.count, entries[0].id, entries[entries.count - 1].id))
        }
        let footerStart = d.count
        d.note("footer")
        d.ascii("SFTR", "footer magic")
        d.u32(UInt32(footer.count), "block count \(footer.count)")
        for (i, f) in footer.enumerated() {
            d.u64(UInt64(f.offset), "block \(i + 1): frame offset 0x\(String(f.offset, radix: 16))")
            d.u32(UInt32(f.frame), "block \(i + 1): frame length \(f.frame)")
            d.u32(UInt32(f.count), "block \(i + 1): entry count \(f.count)")
            d.fixedID(f.first, "block \(i + 1): first ID")
            d.fixedID(f.last, "block \(i + 1): last ID")
        }
        let footerEnd = d.count
        d.note("trailer")
        let trailerStart = d.count
        d.u64(UInt64(footerStart), "footer offset 0x\(String(footerStart, radix: 16))")
        d.u32(UInt32(footer.count), "block count \(footer.count)")
        d.crc(footerStart..<footerEnd, "CRC-32C of the footer (0x\(String(footerStart, radix: 16))-0x\(String(footerEnd - 1, radix: 16)))")
        d.u32(0, "reserved")
        d.crc(trailerStart..<(trailerStart + 20), "CRC-32C of trailer bytes 0-19")
        d.ascii("SPOOLEND", "trailer magic")
        return d
    }

    /// A block payload per the grammar, annotated (offsets relative to the payload).
    static func annotatedPayload(_ entries: [StreamEntry]) -> AnnotatedDump {
        var d = AnnotatedDump()
        let first = entries[0]
        let master = stride(from: 0, to: first.fields.count, by: 2).map { first.fields[$0] }
        d.varint(UInt64(master.count), "master field count \(master.count)")
        for f in master { d.string(f, "master field") }
        var prev = first.id
        for (i, e) in entries.enumerated() {
            let names = stride(from: 0, to: e.fields.count, by: 2).map { e.fields[$0] }
            let same = names == master
            d.u8(same ? 1 : 0, "entry \(i + 1) \(e.id): flags \(same ? "1: master fields" : "0: own fields")")
            let msDelta = e.id.ms - prev.ms
            d.varint(msDelta, "ms delta \(msDelta)")
            let seqPart = msDelta == 0 ? e.id.seq - prev.seq : e.id.seq
            d.varint(seqPart, msDelta == 0 ? "seq delta \(seqPart)" : "seq \(seqPart) (ms changed)")
            if same {
                for k in stride(from: 1, to: e.fields.count, by: 2) { d.string(e.fields[k], "value") }
            } else {
                d.varint(UInt64(e.pairCount), "pair count \(e.pairCount)")
                for (k, f) in e.fields.enumerated() { d.string(f, k % 2 == 0 ? "field" : "value") }
            }
            prev = e.id
        }
        return d
    }

    static func annotatedJournal() -> AnnotatedDump {
        var d = AnnotatedDump()
        d.journalHeader(version: 1, "version 1", number: journalGeneration, "generation 2 (file journal-0000000000000002.log)")
        for r in journalRecords {
            var body = AnnotatedDump()
            switch r {
            case .entry(let e), .carry(let e):
                let isEntry: Bool = if case .entry = r { true } else { false }
                body.u8(isEntry ? 1 : 2, isEntry ? "kind 1: ENTRY" : "kind 2: CARRY")
                body.entry(e)
            case .delete(let ids):
                body.u8(3, "kind 3: DELETE")
                body.varint(UInt64(ids.count), "ID count \(ids.count)")
                for id in ids { body.varintID(id, "deleted ID") }
            case .trim(let through):
                body.u8(4, "kind 4: TRIM")
                body.varintID(through, "trimmed through")
            case .setMeta(let last, let added, let maxDeleted):
                body.u8(5, "kind 5: SETMETA")
                body.varintID(last, "last-generated ID")
                body.varint(added, "entries-added \(added)")
                body.varintID(maxDeleted, "max-deleted-entry ID")
            case .group:
                preconditionFailure("a format-1 journal holds no GROUP records")
            }
            d.record(body, covering: "kind, body")
        }
        return d
    }

    static func annotatedCheckpoint(_ c: StreamCheckpoint) -> AnnotatedDump {
        var d = AnnotatedDump()
        if c.journalOffset == nil {
            d.preamble("SPOOLSTA", "checkpoint magic", version: 3, "version 3")
            d.u64(c.journalGeneration, "journal generation \(c.journalGeneration)")
        } else {
            d.preamble("SPOOLSTA", "checkpoint magic", version: 4, "version 4 (names a store journal position)")
            d.u64(c.journalGeneration, "store journal file \(c.journalGeneration)")
        }
        d.fixedID(c.lastID, "last-generated ID")
        d.u64(c.entriesAdded, "entries-added \(c.entriesAdded)")
        d.fixedID(c.maxDeletedID, "max-deleted-entry ID")
        d.u8(c.trimmedThrough == nil ? 0 : 1, c.trimmedThrough == nil ? "trimmed: no" : "trimmed: yes")
        d.fixedID(c.trimmedThrough ?? .zero, c.trimmedThrough == nil ? "trimmed-through (zero: unused)" : "trimmed-through")
        for (label, list) in [("dropped block", c.droppedBlocks), ("tombstone", c.tombstones)] {
            d.varint(UInt64(list.count), "\(label) count \(list.count)")
            var prev = StreamID.zero
            for id in list {
                let msDelta = id.ms - prev.ms
                d.varint(msDelta, "\(label) \(id): ms delta \(msDelta)")
                d.varint(msDelta == 0 ? id.seq - prev.seq : id.seq, msDelta == 0 ? "seq delta \(id.seq - prev.seq)" : "seq \(id.seq) (ms changed)")
                prev = id
            }
        }
        if let a = c.activeBlocks {
            d.u8(1, "active-segment block list: present")
            d.u64(a.segment, "segment \(a.segment)")
            d.varint(UInt64(a.blocks.count), "block count \(a.blocks.count)")
            var prevFirst = StreamID.zero
            var offset = 32
            for (i, b) in a.blocks.enumerated() {
                d.varint(UInt64(b.frameLength), "block \(i + 1) (at 0x\(String(offset, radix: 16))): frame length \(b.frameLength)")
                d.varint(UInt64(b.count), "entries \(b.count)")
                for (what, from, to) in [("first ID", prevFirst, b.firstID), ("last ID", b.firstID, b.lastID)] {
                    let msDelta = to.ms - from.ms
                    d.varint(msDelta, "\(what) \(to): ms delta \(msDelta)")
                    d.varint(msDelta == 0 ? to.seq - from.seq : to.seq, msDelta == 0 ? "seq delta \(to.seq - from.seq)" : "seq \(to.seq) (ms changed)")
                }
                prevFirst = b.firstID
                offset += Int(b.frameLength)
            }
        } else {
            d.u8(0, "active-segment block list: none")
        }
        d.fixedID(c.lastIDHighWater, "last-ID high-water mark")
        if let o = c.journalOffset { d.u64(o, "journal offset \(o): the stream's records at or after it apply") }
        d.crc(0..<d.count, "CRC-32C of bytes 0x00-0x\(String(d.count - 1, radix: 16))")
        return d
    }

    static func annotatedName() -> AnnotatedDump {
        var d = AnnotatedDump()
        d.preamble("SPOOLNAM", "name file magic", version: 1, "version 1")
        d.u64(nameFile.generation, "rename generation \(nameFile.generation)")
        d.u32(UInt32(nameFile.name.count), "name length \(nameFile.name.count)")
        d.raw(nameFile.name, "name \"orders\"")
        d.crc(0..<d.count, "CRC-32C of bytes 0x00-0x\(String(d.count - 1, radix: 16))")
        return d
    }

    // MARK: Reading FORMAT.md

    /// Path of FORMAT.md at the repository root, found from this file's path.
    static func formatDocumentPath(_ filePath: String = #filePath) -> String {
        var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/SpoolFormatTests/FormatExamples.swift
        return parts.joined(separator: "/") + "/FORMAT.md"
    }

    /// The lines of the ```` ```hex <name> ```` block of `document`, or nil.
    static func block(named name: String, in document: String) -> [Substring]? {
        var lines: [Substring]? = nil
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if lines == nil {
                if line.trimmingTrailingSpaces == "```hex \(name)" { lines = [] }
            } else if line.hasPrefix("```") {
                return lines
            } else {
                lines!.append(line)
            }
        }
        return nil
    }

    enum HexError: Error, CustomStringConvertible {
        case badLine(Int, String)
        case offsetMismatch(line: Int, stated: Int, actual: Int)
        var description: String {
            switch self {
            case .badLine(let n, let l): "hex block line \(n) is not `OFFSET  BYTES  comment`: \(l)"
            case .offsetMismatch(let n, let s, let a): "hex block line \(n) states offset 0x\(String(s, radix: 16)) but its first byte is at 0x\(String(a, radix: 16))"
            }
        }
    }

    /// Bytes of a hex block; checks every line's stated offset.
    static func parseHex(_ lines: [Substring]) throws -> [UInt8] {
        var out: [UInt8] = []
        for (n, line) in lines.enumerated() {
            let tokens = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = tokens.first else { continue }
            if first.hasPrefix("--") { continue }  // a section note
            guard let stated = Int(first, radix: 16) else { throw HexError.badLine(n + 1, String(line)) }
            guard stated == out.count else { throw HexError.offsetMismatch(line: n + 1, stated: stated, actual: out.count) }
            for t in tokens.dropFirst() {
                guard t.count == 2, let v = UInt8(t, radix: 16) else { break }
                out.append(v)
            }
        }
        return out
    }
}

extension Substring {
    var trimmingTrailingSpaces: Substring {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Bytes with one comment per field, printed as FORMAT.md's annotated hex lines.
struct AnnotatedDump {
    var bytes: [UInt8] = []
    /// `(offset, bytes, comment)`; bytes empty for a section note.
    var lines: [(Int, [UInt8], String)] = []
    var count: Int { bytes.count }

    mutating func raw(_ b: [UInt8], _ comment: String) {
        var i = 0
        repeat {
            let chunk = Array(b[i..<Swift.min(i + 12, b.count)])
            lines.append((bytes.count, chunk, i == 0 ? comment : ""))
            bytes += chunk
            i += 12
        } while i < b.count
    }
    mutating func note(_ text: String) { lines.append((bytes.count, [], text)) }
    mutating func u8(_ v: UInt8, _ c: String) { raw([v], c) }
    mutating func u16(_ v: UInt16, _ c: String) { raw([UInt8(v & 0xFF), UInt8(v >> 8)], c) }
    mutating func u32(_ v: UInt32, _ c: String) { raw((0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }, c) }
    mutating func u64(_ v: UInt64, _ c: String) { raw((0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }, c) }
    mutating func crc(_ range: Range<Int>, _ c: String) {
        let v = crc32cReference(Array(bytes[range]))
        u32(v, c + String(format8: v))
    }
    mutating func ascii(_ s: String, _ c: String) { raw(Array(s.utf8), c + " \"\(s)\"") }
    mutating func fixedID(_ id: StreamID, _ c: String) {
        u64(id.ms, c + " \(id): ms")
        u64(id.seq, "  seq")
    }
    mutating func varint(_ v: UInt64, _ c: String) {
        var out: [UInt8] = []
        var x = v
        repeat {
            let b = UInt8(x & 0x7F)
            x >>= 7
            out.append(x == 0 ? b : b | 0x80)
        } while x != 0
        raw(out, c)
    }
    mutating func varintID(_ id: StreamID, _ c: String) {
        varint(id.ms, c + " \(id): ms")
        varint(id.seq, "  seq")
    }
    mutating func string(_ s: [UInt8], _ c: String) {
        varint(UInt64(s.count), "\(c) length \(s.count)")
        if !s.isEmpty { raw(s, "  \"\(String(decoding: s, as: UTF8.self))\"") }
    }
    /// The 16-byte preamble every file starts with: magic, version, flags 0, reserved.
    mutating func preamble(_ magic: String, _ magicText: String, version: UInt16, _ versionText: String) {
        ascii(magic, magicText)
        u16(version, versionText)
        u16(0, "flags: none")
        u32(0, "reserved")
    }

    /// The 32-byte header of a journal file.
    mutating func journalHeader(version: UInt16, _ versionText: String, number: UInt64, _ numberText: String) {
        ascii("SPOOLJNL", "journal magic")
        u16(version, versionText)
        u16(0, "flags: none")
        u32(0, "reserved")
        u64(number, numberText)
        crc(0..<24, "CRC-32C of bytes 0x00-0x17")
        u32(0, "padding")
    }

    /// An ENTRY or CARRY record's body after its kind (and key).
    mutating func entry(_ e: StreamEntry) {
        varintID(e.id, "entry ID")
        varint(UInt64(e.pairCount), "pair count \(e.pairCount)")
        for (k, f) in e.fields.enumerated() { string(f, k % 2 == 0 ? "field" : "value") }
    }

    /// A journal record: CRC-32C of the length field and `body`, the length, then `body`.
    mutating func record(_ body: AnnotatedDump, covering what: String) {
        var prefix = ByteWriter()
        prefix.writeUInt32(UInt32(body.bytes.count))
        let crc = crc32cReference(prefix.bytes + body.bytes)
        note("record at 0x\(String(count, radix: 16))")
        u32(crc, "CRC-32C of the next \(4 + body.bytes.count) bytes (length, \(what))")
        u32(UInt32(body.bytes.count), "length \(body.bytes.count) (\(what.replacing(", ", with: " + ")))")
        append(body, base: count)
    }

    /// Appends `other`'s lines (its offsets relative to it) at `base`.
    mutating func append(_ other: AnnotatedDump, base: Int) {
        precondition(base == bytes.count)
        for (o, b, c) in other.lines { lines.append((base + o, b, c)) }
        bytes += other.bytes
    }
    /// LZ4 block sequences (FORMAT.md "LZ4"), annotated.
    mutating func lz4(_ c: [UInt8]) {
        var p = 0
        func extra(_ p: inout Int) -> ([UInt8], Int) {
            var taken: [UInt8] = []
            var sum = 0
            while p < c.count {
                let b = c[p]; p += 1; taken.append(b); sum += Int(b)
                if b != 255 { break }
            }
            return (taken, sum)
        }
        while p < c.count {
            let token = c[p]; p += 1
            var literals = Int(token >> 4)
            let matchNibble = Int(token & 0x0F)
            let literalText = token >> 4 == 15 ? "15 + next bytes" : "\(token >> 4)"
            let matchText = matchNibble == 15 ? "4 + 15 + next bytes" : "4 + \(matchNibble)"
            raw([token], "token 0x\(String(token, radix: 16)): literal length \(literalText), match length \(matchText)")
            if token >> 4 == 15 {
                let (taken, sum) = extra(&p)
                literals += sum
                raw(taken, "  literal length 15 + \(sum) = \(literals)")
            }
            let lit = Array(c[p..<Swift.min(p + literals, c.count)])
            p += lit.count
            if !lit.isEmpty { raw(lit, "  literals \"\(String(decoding: lit.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self))\"") }
            if p >= c.count { break }
            let offset = Int(c[p]) | Int(c[p + 1]) << 8
            var match = matchNibble + 4
            var taken = [c[p], c[p + 1]]
            p += 2
            if matchNibble == 15 {
                let (t, sum) = extra(&p)
                taken += t
                match += sum
            }
            raw(taken, matchNibble == 15 ? "  match offset \(offset), match length 4 + 15 + \(match - 19) = \(match)" : "  match offset \(offset), match length \(match)")
        }
    }

    /// FORMAT.md's text of the block.
    var text: String {
        var out = ""
        for (o, b, c) in lines {
            if b.isEmpty {
                out += "-- \(c)\n"
                continue
            }
            var line = String(format4: o) + "  " + b.map { String(format2hex: $0) }.joined(separator: " ")
            if !c.isEmpty {
                line += String(repeating: " ", count: Swift.max(1, 6 + 36 - line.count + 1)) + c
            }
            out += line + "\n"
        }
        return out
    }
}

extension String {
    init(format4 v: Int) {
        let s = String(v, radix: 16)
        self = String(repeating: "0", count: Swift.max(0, 4 - s.count)) + s
    }
    init(format2hex v: UInt8) {
        self = v < 16 ? "0" + String(v, radix: 16) : String(v, radix: 16)
    }
    init(format8 v: UInt32) {
        let s = String(v, radix: 16)
        self = " = 0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// Bit-at-a-time CRC-32C straight from FORMAT.md's definition (reflected polynomial
/// 0x82F63B78, initial value and final XOR 0xFFFFFFFF), independent of the C kernel.
func crc32cReference(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}
