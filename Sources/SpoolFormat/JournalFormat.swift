/// The per-stream tail journal (`journal-<generation:16 hex>.log`): everything since the last
/// checkpoint, one checksummed record per operation. See FORMAT.md "Journal".
///
/// ```
/// journal := header(32) record*
/// record  := crc:u32 length:u32 kind:u8 body(length - 1)
/// ```
/// `crc` is the CRC-32C of the `length` field, the kind byte and the body.
public enum JournalFormat {
    /// `SPOOLJNL`
    public static let magic: [UInt8] = Array("SPOOLJNL".utf8)
    /// Current journal version.
    public static let version: UInt16 = 1
    /// Header size.
    public static let headerSize = 32
    /// Bytes before a record's kind byte.
    public static let recordPrefixSize = FileFraming.recordPrefixSize
    /// Largest record body accepted by a reader.
    public static let maxRecordLength = FileFraming.maxRecordLength

    /// Journal file names: `journal-<16 hex>.log`.
    public static let names = NumberedFileName(prefix: "journal-", suffix: ".log")

    /// File name of journal `generation`.
    public static func fileName(_ generation: UInt64) -> String { names.name(generation) }

    /// Parses a journal file name.
    public static func generation(fromFileName name: String) -> UInt64? { names.number(name) }

    /// Encodes the header of journal `generation`.
    public static func encodeHeader(generation: UInt64) -> [UInt8] {
        FileFraming.encodeLogHeader(magic: magic, version: version, generation: generation)
    }

    /// Decodes and checks a journal header, returning the generation.
    public static func decodeHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> UInt64 {
        try FileFraming.decodeLogHeader(bytes, file: file, magic: magic, version: version, kind: "journal")
    }

    // MARK: The store journal (format 2)

    /// Version of a store journal file: the same framing, records that name their stream.
    public static let storeVersion: UInt16 = 2

    /// Store journal file names inside `journal/`: `<16 hex>.log`.
    public static let storeNames = NumberedFileName(prefix: "", suffix: ".log")

    /// Encodes the header of store journal file `number`.
    public static func encodeStoreHeader(number: UInt64) -> [UInt8] {
        FileFraming.encodeLogHeader(magic: magic, version: storeVersion, generation: number)
    }

    /// Decodes and checks a store journal header, returning the file's number.
    public static func decodeStoreHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> UInt64 {
        try FileFraming.decodeLogHeader(bytes, file: file, magic: magic, version: storeVersion, kind: "store journal")
    }

    /// A record of the store journal: the stream it belongs to and what it says.
    public struct KeyedRecord: Sendable, Equatable {
        /// The stream.
        public var key: StreamKey
        /// The record.
        public var record: Record

        /// Creates a keyed record.
        public init(key: StreamKey, record: Record) {
            self.key = key
            self.record = record
        }
    }

    /// One journal record.
    public enum Record: Sendable, Equatable {
        /// XADD: a new entry; counts toward entries-added and sets last-generated-ID.
        case entry(StreamEntry)
        /// An entry of the unsealed block carried over into a new journal generation at a
        /// checkpoint; changes no counter.
        case carry(StreamEntry)
        /// XDEL (and friends): these IDs were deleted; raises max-deleted-entry-ID.
        case delete([StreamID])
        /// Trim: every entry with ID ≤ this one is gone; no counter changes.
        case trim(through: StreamID)
        /// XSETID: the three counters set at once.
        case setMeta(lastID: StreamID, entriesAdded: UInt64, maxDeletedID: StreamID)
        /// A consumer-group mutation of the stream (store journal only): kind
        /// `groupKindBase` + the group record's kind, its body that record's (FORMAT.md §8.1).
        case group(GroupJournalFormat.Record)

        /// The kind byte.
        public var kind: UInt8 {
            switch self {
            case .entry: 1
            case .carry: 2
            case .delete: 3
            case .trim: 4
            case .setMeta: 5
            case .group(let g): JournalFormat.groupKindBase + g.kind
            }
        }
    }

    /// Store journal kinds above this carry group records (17 to 26).
    public static let groupKindBase: UInt8 = 16

    /// Whether `kind` is a group record's.
    static func isGroupKind(_ kind: UInt8) -> Bool {
        kind > groupKindBase && kind <= groupKindBase + GroupJournalFormat.maxKind
    }

    /// Appends the encoded `record` to `w`; with `key`, as a store journal record (the key's
    /// database and number follow the kind byte).
    public static func encode(_ record: Record, key: StreamKey? = nil, into w: inout ByteWriter) {
        let start = w.count
        switch record {
        case .entry(let e), .carry(let e):
            writeEntry(e, kind: record.kind, key: key, into: &w)
        case .delete(let ids):
            beginRecord(&w, kind: record.kind, key: key)
            w.writeVarint(UInt64(ids.count))
            for id in ids { w.writeID(id) }
        case .trim(let through):
            beginRecord(&w, kind: record.kind, key: key)
            w.writeID(through)
        case .setMeta(let last, let added, let maxDeleted):
            beginRecord(&w, kind: record.kind, key: key)
            w.writeID(last)
            w.writeVarint(added)
            w.writeID(maxDeleted)
        case .group(let g):
            beginRecord(&w, kind: record.kind, key: key)
            GroupJournalFormat.encodeBody(g, into: &w)
        }
        FileFraming.finishRecord(&w, start: start)
    }

    /// Starts a record: prefix (patched by `finishRecord`), kind, and the key of a store
    /// journal record.
    static func beginRecord(_ w: inout ByteWriter, kind: UInt8, key: StreamKey?) {
        _ = FileFraming.beginRecord(&w, kind: kind)
        if let key {
            w.writeVarint(UInt64(key.database))
            w.writeVarint(key.number)
        }
    }

    /// The prefix (left for `finishRecord`), kind, key and body of an ENTRY or CARRY record,
    /// the records written per append: sized first, then written in place, without a capacity
    /// check per byte.
    static func writeEntry(_ e: StreamEntry, kind: UInt8, key: StreamKey?, into w: inout ByteWriter) {
        let keyBytes = key.map { ByteWriter.varintSize(UInt64($0.database)) + ByteWriter.varintSize($0.number) } ?? 0
        var body = 1 + keyBytes + ByteWriter.varintSize(e.id.ms) + ByteWriter.varintSize(e.id.seq) + ByteWriter.varintSize(UInt64(e.pairCount))
        for f in e.fields { body += ByteWriter.varintSize(UInt64(f.count)) + f.count }
        w.writeInPlace(count: FileFraming.recordPrefixSize + body) { p in
            var o = FileFraming.recordPrefixSize
            p[o] = kind
            o += 1
            if let key {
                o = ByteWriter.putVarint(UInt64(key.database), p, at: o)
                o = ByteWriter.putVarint(key.number, p, at: o)
            }
            o = ByteWriter.putVarint(e.id.ms, p, at: o)
            o = ByteWriter.putVarint(e.id.seq, p, at: o)
            o = ByteWriter.putVarint(UInt64(e.pairCount), p, at: o)
            for f in e.fields {
                o = ByteWriter.putVarint(UInt64(f.count), p, at: o)
                f.withUnsafeBytes { src in
                    if let base = src.baseAddress, src.count > 0 { (p.baseAddress! + o).copyMemory(from: base, byteCount: src.count) }
                }
                o += f.count
            }
        }
    }

    /// Encodes one record (with `key`, a store journal record).
    public static func encode(_ record: Record, key: StreamKey? = nil) -> [UInt8] {
        var w = ByteWriter()
        encode(record, key: key, into: &w)
        return w.bytes
    }

    /// The outcome of reading the record at one position.
    public typealias ReadResult = FileFraming.ReadResult<Record>

    /// Reads the record at `offset` of the journal bytes `bytes`. When `skipEntriesThrough` is
    /// given, ENTRY and CARRY records whose ID is not above it come back with no fields (their
    /// checksum is still verified): recovery needs only their IDs, and decoding is most of the
    /// cost of replay.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int, file: String,
                            skipEntriesThrough: StreamID? = nil) -> ReadResult {
        FileFraming.readRecord(bytes, at: offset, file: file) { (body, at) throws(FormatError) in
            if let limit = skipEntriesThrough, body.count > 1, body[0] == 1 || body[0] == 2 {
                var r = ByteReader(body, file: file, baseOffset: at)
                let kind = try r.readUInt8()
                let id = try r.readID()
                if id <= limit {
                    let e = StreamEntry(id: id, fields: [])
                    return kind == 1 ? .entry(e) : .carry(e)
                }
            }
            return try decodeBody(body, file: file, offset: at)
        }
    }

    /// Reads the store journal record at `offset`. `skipEntriesThrough` gives, per stream, the
    /// ID up to which ENTRY and CARRY records come back with no fields (as `read` does).
    public static func readKeyed(_ bytes: UnsafeRawBufferPointer, at offset: Int, file: String,
                                 skipEntriesThrough: (StreamKey) -> StreamID? = { _ in nil }) -> FileFraming.ReadResult<KeyedRecord> {
        FileFraming.readRecord(bytes, at: offset, file: file) { (body, at) throws(FormatError) in
            var r = ByteReader(body, file: file, baseOffset: at)
            let kind = try r.readUInt8("record kind")
            let key = try readKey(&r)
            if kind == 1 || kind == 2, let limit = skipEntriesThrough(key) {
                var peek = r
                let id = try peek.readID()
                if id <= limit {
                    let e = StreamEntry(id: id, fields: [])
                    return KeyedRecord(key: key, record: kind == 1 ? .entry(e) : .carry(e))
                }
            }
            return KeyedRecord(key: key, record: try decodeBody(kind: kind, &r, file: file, offset: at))
        }
    }

    /// The stream key after a store journal record's kind byte.
    static func readKey(_ r: inout ByteReader) throws(FormatError) -> StreamKey {
        let db = try r.readVarint("database")
        guard db <= UInt64(UInt32.max) else { throw r.error("bad database number \(db)") }
        return StreamKey(database: UInt32(db), number: try r.readVarint("stream number"))
    }

    static func decodeBody(_ body: UnsafeRawBufferPointer, file: String, offset: UInt64) throws(FormatError) -> Record {
        var r = ByteReader(body, file: file, baseOffset: offset)
        let kind = try r.readUInt8("record kind")
        return try decodeBody(kind: kind, &r, file: file, offset: offset)
    }

    /// A record's body after its kind byte (and key).
    static func decodeBody(kind: UInt8, _ r: inout ByteReader, file: String, offset: UInt64) throws(FormatError) -> Record {
        let record: Record
        switch kind {
        case 1, 2:
            let id = try r.readID()
            let pairs = try r.readLength("pair count", limit: r.remaining / 2)
            var fields: [[UInt8]] = []
            fields.reserveCapacity(pairs * 2)
            for _ in 0..<(pairs * 2) { fields.append(try r.readLengthPrefixed("field")) }
            let e = StreamEntry(id: id, fields: fields)
            record = kind == 1 ? .entry(e) : .carry(e)
        case 3:
            let n = try r.readLength("id count", limit: r.remaining / 2)
            var ids: [StreamID] = []
            ids.reserveCapacity(n)
            for _ in 0..<n { ids.append(try r.readID()) }
            record = .delete(ids)
        case 4:
            record = .trim(through: try r.readID())
        case 5:
            record = .setMeta(lastID: try r.readID(), entriesAdded: try r.readVarint(), maxDeletedID: try r.readID())
        case _ where isGroupKind(kind):
            // (The body decoder checks that nothing trails.)
            return .group(try GroupJournalFormat.decodeBody(kind: kind - groupKindBase, &r, file: file, offset: offset))
        default:
            throw FormatError(file: file, offset: offset, "unknown journal record kind \(kind)")
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) trailing bytes in record") }
        return record
    }
}
