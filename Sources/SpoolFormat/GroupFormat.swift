/// Consumer-group sidecar files of a stream directory. See FORMAT.md "Consumer-group files".
///
/// ```
/// groups                          checkpoint: every group as of the start of its journal generation
/// groups-<generation:16 hex>.log  journal: group operations since that checkpoint
/// journal := header(32) record*
/// record  := crc:u32 length:u32 kind:u8 body(length - 1)
/// ```
/// The record framing is the stream journal's: `crc` is the CRC-32C of the `length` field, the
/// kind byte and the body. Records describe *results* (the pending record as it is after the
/// operation), never commands, so replaying one twice gives the same state.
public enum GroupJournalFormat {
    /// `SPOOLGJL`
    public static let magic: [UInt8] = Array("SPOOLGJL".utf8)
    /// Current version.
    public static let version: UInt16 = 1
    /// Header size.
    public static let headerSize = 32
    /// Bytes before a record's kind byte.
    public static let recordPrefixSize = 8

    /// Group-journal file names: `groups-<16 hex>.log`.
    public static let names = NumberedFileName(prefix: "groups-", suffix: ".log")

    /// File name of journal `generation`.
    public static func fileName(_ generation: UInt64) -> String { names.name(generation) }

    /// Parses a group-journal file name.
    public static func generation(fromFileName name: String) -> UInt64? { names.number(name) }

    /// Encodes the header of journal `generation`.
    public static func encodeHeader(generation: UInt64) -> [UInt8] {
        FileFraming.encodeLogHeader(magic: magic, version: version, generation: generation)
    }

    /// Decodes and checks a header, returning the generation.
    public static func decodeHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> UInt64 {
        try FileFraming.decodeLogHeader(bytes, file: file, magic: magic, version: version, kind: "group journal")
    }

    /// One delivered (or claimed) pending record: the ID and its delivery count afterwards.
    public struct Item: Sendable, Equatable {
        /// Entry ID.
        public var id: StreamID
        /// Delivery count after the operation.
        public var count: UInt64
        /// Creates an item.
        public init(_ id: StreamID, _ count: UInt64) { self.id = id; self.count = count }
    }

    /// The group cursor after a `>` read: last-delivered-ID and entries-read (nil = invalid).
    public struct Cursor: Sendable, Equatable {
        /// Last-delivered-ID.
        public var lastID: StreamID
        /// Entries-read, nil when invalid.
        public var entriesRead: UInt64?
        /// Creates a cursor.
        public init(lastID: StreamID, entriesRead: UInt64?) { self.lastID = lastID; self.entriesRead = entriesRead }
    }

    /// A delivery: the consumer (created if missing) is seen (and active, when `activeMs` is
    /// set), the cursor moves, and each item's pending record is set to (consumer, timeMs, count).
    public struct Delivery: Sendable, Equatable {
        /// Group name.
        public var group: [UInt8]
        /// Consumer name.
        public var consumer: [UInt8]
        /// New seen-time.
        public var seenMs: UInt64
        /// New active-time, or nil to leave it.
        public var activeMs: UInt64?
        /// New cursor, or nil to leave it.
        public var cursor: Cursor?
        /// Delivery time of every item.
        public var timeMs: UInt64
        /// Pending records set by this delivery.
        public var items: [Item]
        /// Creates a delivery.
        public init(group: [UInt8], consumer: [UInt8], seenMs: UInt64, activeMs: UInt64?, cursor: Cursor?, timeMs: UInt64, items: [Item]) {
            self.group = group
            self.consumer = consumer
            self.seenMs = seenMs
            self.activeMs = activeMs
            self.cursor = cursor
            self.timeMs = timeMs
            self.items = items
        }
    }

    /// One group-journal record.
    public enum Record: Sendable, Equatable {
        /// XGROUP CREATE (kind 1).
        case createGroup(name: [UInt8], cursor: Cursor)
        /// XGROUP DESTROY (kind 2).
        case destroyGroup(name: [UInt8])
        /// XGROUP SETID and rewind-by-time (kind 3).
        case setCursor(group: [UInt8], cursor: Cursor)
        /// XGROUP CREATECONSUMER, or an implicit creation with nothing delivered (kind 4).
        case createConsumer(group: [UInt8], consumer: [UInt8], seenMs: UInt64)
        /// XGROUP DELCONSUMER: the consumer and its pending records go (kind 5).
        case deleteConsumer(group: [UInt8], consumer: [UInt8])
        /// XREADGROUP, XCLAIM, XAUTOCLAIM deliveries (kind 6).
        case deliver(Delivery)
        /// XACK and PEL clean-ups: these pending records go (kind 7).
        case ack(group: [UInt8], ids: [StreamID])
        /// Dead-letter settings (kind 8): `maxDeliveries` 0 turns dead-lettering off.
        case deadLetterConfig(group: [UInt8], maxDeliveries: UInt64, stream: [UInt8])
        /// DELREF: these IDs leave every group's PEL (kind 9).
        case dropReferences(ids: [StreamID])
        /// Dead-lettered: acknowledged and counted in the group's dead-letter total (kind 10).
        case deadLettered(group: [UInt8], ids: [StreamID])

        /// The kind byte.
        public var kind: UInt8 {
            switch self {
            case .createGroup: 1
            case .destroyGroup: 2
            case .setCursor: 3
            case .createConsumer: 4
            case .deleteConsumer: 5
            case .deliver: 6
            case .ack: 7
            case .deadLetterConfig: 8
            case .dropReferences: 9
            case .deadLettered: 10
            }
        }
    }

    /// The highest record kind.
    static let maxKind: UInt8 = 10

    static func writeCursor(_ c: Cursor, into w: inout ByteWriter) {
        w.writeID(c.lastID)
        w.writeVarint(c.entriesRead.map { $0 &+ 1 } ?? 0)
    }

    static func readCursor(_ r: inout ByteReader) throws(FormatError) -> Cursor {
        let id = try r.readID("last-delivered-id")
        let er = try r.readVarint("entries-read")
        return Cursor(lastID: id, entriesRead: er == 0 ? nil : er - 1)
    }

    static func writeIDs(_ ids: [StreamID], into w: inout ByteWriter) {
        w.writeVarint(UInt64(ids.count))
        for id in ids { w.writeID(id) }
    }

    static func readIDs(_ r: inout ByteReader) throws(FormatError) -> [StreamID] {
        let n = try r.readLength("id count", limit: r.remaining / 2)
        var ids: [StreamID] = []
        ids.reserveCapacity(n)
        for _ in 0..<n { ids.append(try r.readID()) }
        return ids
    }

    /// Appends the encoded `record` to `w`.
    public static func encode(_ record: Record, into w: inout ByteWriter) {
        let start = FileFraming.beginRecord(&w, kind: record.kind)
        encodeBody(record, into: &w)
        FileFraming.finishRecord(&w, start: start)
    }

    /// Appends a record's body (what follows its kind byte) to `w`; the store journal's GROUP
    /// records carry the same bodies.
    static func encodeBody(_ record: Record, into w: inout ByteWriter) {
        switch record {
        case .createGroup(let name, let cursor):
            w.writeLengthPrefixed(name)
            writeCursor(cursor, into: &w)
        case .destroyGroup(let name):
            w.writeLengthPrefixed(name)
        case .setCursor(let group, let cursor):
            w.writeLengthPrefixed(group)
            writeCursor(cursor, into: &w)
        case .createConsumer(let group, let consumer, let seen):
            w.writeLengthPrefixed(group)
            w.writeLengthPrefixed(consumer)
            w.writeVarint(seen)
        case .deleteConsumer(let group, let consumer):
            w.writeLengthPrefixed(group)
            w.writeLengthPrefixed(consumer)
        case .deliver(let d):
            w.writeLengthPrefixed(d.group)
            w.writeLengthPrefixed(d.consumer)
            w.writeVarint(d.seenMs)
            w.writeVarint(d.activeMs.map { $0 &+ 1 } ?? 0)
            if let c = d.cursor {
                w.writeUInt8(1)
                writeCursor(c, into: &w)
            } else {
                w.writeUInt8(0)
            }
            w.writeVarint(d.timeMs)
            w.writeVarint(UInt64(d.items.count))
            for item in d.items {
                w.writeID(item.id)
                w.writeVarint(item.count)
            }
        case .ack(let group, let ids), .deadLettered(let group, let ids):
            w.writeLengthPrefixed(group)
            writeIDs(ids, into: &w)
        case .deadLetterConfig(let group, let max, let stream):
            w.writeLengthPrefixed(group)
            w.writeVarint(max)
            w.writeLengthPrefixed(stream)
        case .dropReferences(let ids):
            writeIDs(ids, into: &w)
        }
    }

    /// Encodes one record.
    public static func encode(_ record: Record) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        encode(record, into: &w)
        return w.bytes
    }

    /// Reads the record at `offset`: a record, the end (clean or torn), or a damaged record.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int, file: String) -> ReadResult {
        FileFraming.readRecord(bytes, at: offset, file: file) { (body, at) throws(FormatError) in
            try decodeBody(body, file: file, offset: at)
        }
    }

    static func decodeBody(_ body: UnsafeRawBufferPointer, file: String, offset: UInt64) throws(FormatError) -> Record {
        var r = ByteReader(body, file: file, baseOffset: offset)
        let kind = try r.readUInt8("record kind")
        return try decodeBody(kind: kind, &r, file: file, offset: offset)
    }

    /// A record's body after its kind byte (and, in the store journal, its key).
    static func decodeBody(kind: UInt8, _ r: inout ByteReader, file: String, offset: UInt64) throws(FormatError) -> Record {
        let record: Record
        switch kind {
        case 1:
            record = .createGroup(name: try r.readLengthPrefixed("group"), cursor: try readCursor(&r))
        case 2:
            record = .destroyGroup(name: try r.readLengthPrefixed("group"))
        case 3:
            record = .setCursor(group: try r.readLengthPrefixed("group"), cursor: try readCursor(&r))
        case 4:
            record = .createConsumer(group: try r.readLengthPrefixed("group"), consumer: try r.readLengthPrefixed("consumer"), seenMs: try r.readVarint())
        case 5:
            record = .deleteConsumer(group: try r.readLengthPrefixed("group"), consumer: try r.readLengthPrefixed("consumer"))
        case 6:
            let group = try r.readLengthPrefixed("group")
            let consumer = try r.readLengthPrefixed("consumer")
            let seen = try r.readVarint("seen-time")
            let active = try r.readVarint("active-time")
            let hasCursor = try r.readUInt8("cursor flag")
            guard hasCursor <= 1 else { throw r.error("bad cursor flag \(hasCursor)") }
            let cursor = hasCursor == 1 ? try readCursor(&r) : nil
            let time = try r.readVarint("delivery time")
            let n = try r.readLength("item count", limit: r.remaining / 3)
            var items: [Item] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(Item(try r.readID(), try r.readVarint("delivery count"))) }
            record = .deliver(Delivery(group: group, consumer: consumer, seenMs: seen, activeMs: active == 0 ? nil : active - 1,
                                       cursor: cursor, timeMs: time, items: items))
        case 7:
            record = .ack(group: try r.readLengthPrefixed("group"), ids: try readIDs(&r))
        case 8:
            record = .deadLetterConfig(group: try r.readLengthPrefixed("group"), maxDeliveries: try r.readVarint(), stream: try r.readLengthPrefixed("stream"))
        case 9:
            record = .dropReferences(ids: try readIDs(&r))
        case 10:
            record = .deadLettered(group: try r.readLengthPrefixed("group"), ids: try readIDs(&r))
        default:
            throw FormatError(file: file, offset: offset, "unknown group journal record kind \(kind)")
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) trailing bytes in record") }
        return record
    }
}

extension GroupJournalFormat {
    /// The outcome of reading one group-journal record.
    public typealias ReadResult = FileFraming.ReadResult<GroupJournalFormat.Record>
}

/// The group checkpoint (`groups`): every group of a stream as of the start of group-journal
/// generation `journalGeneration`. Written atomically; the last 4 bytes are the CRC-32C of all
/// bytes before them.
public struct GroupCheckpoint: Sendable, Equatable {
    /// `SPOOLGRP`
    public static let magic: [UInt8] = Array("SPOOLGRP".utf8)
    /// Current version: 2 names a store journal position (the stream's group records are in
    /// the store journal); version 1, whose records are in `groups-<generation>.log`, is still
    /// read, and upgraded on open.
    public static let version: UInt16 = 2
    /// File name.
    public static let fileName = "groups"

    /// A pending record in a checkpoint.
    public struct Pending: Sendable, Equatable {
        /// Entry ID.
        public var id: StreamID
        /// Index into the group's `consumers`.
        public var consumer: Int
        /// Last delivery time (Unix ms).
        public var deliveryTime: UInt64
        /// Delivery count.
        public var deliveryCount: UInt64
        /// Creates a record.
        public init(id: StreamID, consumer: Int, deliveryTime: UInt64, deliveryCount: UInt64) {
            self.id = id
            self.consumer = consumer
            self.deliveryTime = deliveryTime
            self.deliveryCount = deliveryCount
        }
    }

    /// A consumer in a checkpoint.
    public struct Consumer: Sendable, Equatable {
        /// Name.
        public var name: [UInt8]
        /// Seen-time (Unix ms).
        public var seenTime: UInt64
        /// Active-time (Unix ms), nil = never.
        public var activeTime: UInt64?
        /// Creates a consumer.
        public init(name: [UInt8], seenTime: UInt64, activeTime: UInt64?) {
            self.name = name
            self.seenTime = seenTime
            self.activeTime = activeTime
        }
    }

    /// A group in a checkpoint.
    public struct Group: Sendable, Equatable {
        /// Name.
        public var name: [UInt8]
        /// Cursor.
        public var cursor: GroupJournalFormat.Cursor
        /// Dead-letter maximum delivery count (0 = off).
        public var maxDeliveries: UInt64
        /// Dead-letter stream name.
        public var deadLetterStream: [UInt8]
        /// Lifetime count of dead-lettered entries.
        public var deadLettered: UInt64
        /// Consumers.
        public var consumers: [Consumer]
        /// Pending records, ascending by ID.
        public var pending: [Pending]
        /// Creates a group.
        public init(name: [UInt8], cursor: GroupJournalFormat.Cursor, maxDeliveries: UInt64, deadLetterStream: [UInt8],
                    deadLettered: UInt64, consumers: [Consumer], pending: [Pending]) {
            self.name = name
            self.cursor = cursor
            self.maxDeliveries = maxDeliveries
            self.deadLetterStream = deadLetterStream
            self.deadLettered = deadLettered
            self.consumers = consumers
            self.pending = pending
        }
    }

    /// Version 1: the group-journal generation continuing from this checkpoint. Version 2: the
    /// store journal file of `journalPosition`.
    public var journalGeneration: UInt64
    /// Version 2: the offset in store journal file `journalGeneration` from which on the
    /// stream's group records apply (nil: version 1, whose records are in its group journal).
    public var journalOffset: UInt64?
    /// The groups.
    public var groups: [Group]

    /// Where in the store journal the stream's group records continue (nil: version 1).
    public var journalPosition: JournalPosition? {
        journalOffset.map { JournalPosition(file: journalGeneration, offset: $0) }
    }

    /// Creates a version-1 checkpoint (its records in group journal `journalGeneration`).
    public init(journalGeneration: UInt64, groups: [Group]) {
        self.journalGeneration = journalGeneration
        self.journalOffset = nil
        self.groups = groups
    }

    /// Creates a checkpoint whose group records continue at `position` of the store journal.
    public init(position: JournalPosition, groups: [Group]) {
        self.journalGeneration = position.file
        self.journalOffset = position.offset
        self.groups = groups
    }

    /// Encodes the checkpoint.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + groups.reduce(0) { $0 + 64 + 12 * $1.pending.count })
        FileFraming.writePreamble(&w, magic: Self.magic, version: journalOffset == nil ? 1 : Self.version)
        w.writeUInt64(journalGeneration)
        if let o = journalOffset { w.writeUInt64(o) }
        w.writeVarint(UInt64(groups.count))
        for g in groups {
            w.writeLengthPrefixed(g.name)
            GroupJournalFormat.writeCursor(g.cursor, into: &w)
            w.writeVarint(g.maxDeliveries)
            w.writeLengthPrefixed(g.deadLetterStream)
            w.writeVarint(g.deadLettered)
            w.writeVarint(UInt64(g.consumers.count))
            for c in g.consumers {
                w.writeLengthPrefixed(c.name)
                w.writeVarint(c.seenTime)
                w.writeVarint(c.activeTime.map { $0 &+ 1 } ?? 0)
            }
            w.writeVarint(UInt64(g.pending.count))
            var prev = StreamID.zero
            for p in g.pending {
                let d = p.id.ms - prev.ms
                w.writeVarint(d)
                w.writeVarint(d == 0 ? p.id.seq - prev.seq : p.id.seq)
                w.writeVarint(UInt64(p.consumer))
                w.writeVarint(p.deliveryTime)
                w.writeVarint(p.deliveryCount)
                prev = p.id
            }
        }
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Where each part of a decoded checkpoint starts in the file, for reports that point at a
    /// group, a consumer or a pending record.
    public struct Layout: Sendable, Equatable {
        /// Offsets of one group's parts.
        public struct Group: Sendable, Equatable {
            /// The group's name (its length prefix).
            public var name: Int
            /// Its cursor.
            public var cursor: Int
            /// Each consumer's name, in order.
            public var consumers: [Int]
            /// Each pending record, in order.
            public var pending: [Int]
        }
        /// One per group, in order.
        public var groups: [Group] = []
    }

    /// Decodes and verifies a checkpoint.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> GroupCheckpoint {
        var layout: Layout? = nil
        return try decode(bytes, file: file, layout: &layout)
    }

    /// Decodes and verifies a checkpoint, and tells where each group, consumer and pending
    /// record starts.
    public static func decodeWithLayout(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> (GroupCheckpoint, Layout) {
        var layout: Layout? = Layout()
        let cp = try decode(bytes, file: file, layout: &layout)
        return (cp, layout!)
    }

    /// Decodes; fills `layout` when it is not nil.
    static func decode(_ bytes: UnsafeRawBufferPointer, file: String, layout: inout Layout?) throws(FormatError) -> GroupCheckpoint {
        let body = try FileFraming.verifyTrailingCRC(bytes, file: file, minimum: 8 + 2 + 2 + 4 + 8 + 1 + 4, kind: "group checkpoint")
        var r = ByteReader(body, file: file)
        let v = try FileFraming.readPreamble(&r, magic: magic, versions: 1...version, kind: "group checkpoint")
        let gen = try r.readUInt64()
        let offset: UInt64? = v >= 2 ? try r.readUInt64() : nil
        let groupCount = try r.readLength("group count", limit: r.remaining / 4)
        var groups: [Group] = []
        var names = Set<[UInt8]>()
        for _ in 0..<groupCount {
            var place = Layout.Group(name: r.offset, cursor: 0, consumers: [], pending: [])
            let name = try r.readLengthPrefixed("group name")
            guard names.insert(name).inserted else { throw r.error("duplicate group name") }
            place.cursor = r.offset
            let cursor = try GroupJournalFormat.readCursor(&r)
            let maxDeliveries = try r.readVarint("max deliveries")
            let dlq = try r.readLengthPrefixed("dead-letter stream")
            let dead = try r.readVarint("dead-lettered")
            let nc = try r.readLength("consumer count", limit: r.remaining / 3)
            var consumers: [Consumer] = []
            consumers.reserveCapacity(nc)
            for _ in 0..<nc {
                if layout != nil { place.consumers.append(r.offset) }
                let cname = try r.readLengthPrefixed("consumer name")
                let seen = try r.readVarint("seen-time")
                let active = try r.readVarint("active-time")
                consumers.append(Consumer(name: cname, seenTime: seen, activeTime: active == 0 ? nil : active - 1))
            }
            let np = try r.readLength("pending count", limit: r.remaining / 5)
            var pending: [Pending] = []
            pending.reserveCapacity(np)
            var prev = StreamID.zero
            for i in 0..<np {
                if layout != nil { place.pending.append(r.offset) }
                let d = try r.readVarint()
                let s = try r.readVarint()
                let (ms, o1) = prev.ms.addingReportingOverflow(d)
                let (seq, o2) = d == 0 ? prev.seq.addingReportingOverflow(s) : (s, false)
                guard !o1, !o2 else { throw r.error("pending id overflows") }
                let id = StreamID(ms, seq)
                guard i == 0 || id > prev else { throw r.error("pending ids not ascending") }
                let ci = try r.readLength("consumer index", limit: max(nc - 1, 0))
                guard nc > 0 else { throw r.error("pending record without consumers") }
                pending.append(Pending(id: id, consumer: ci, deliveryTime: try r.readVarint(), deliveryCount: try r.readVarint()))
                prev = id
            }
            groups.append(Group(name: name, cursor: cursor, maxDeliveries: maxDeliveries, deadLetterStream: dlq,
                                deadLettered: dead, consumers: consumers, pending: pending))
            layout?.groups.append(place)
        }
        guard r.isAtEnd else { throw r.error("trailing bytes in group checkpoint") }
        var cp = GroupCheckpoint(journalGeneration: gen, groups: groups)
        cp.journalOffset = offset
        return cp
    }
}
