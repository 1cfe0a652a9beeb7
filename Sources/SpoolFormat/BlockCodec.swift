/// The listpack-style raw encoding of a block's entries (before compression). See FORMAT.md
/// "Block payload".
///
/// ```
/// payload   := masterCount:varint masterField{masterCount} entry{count}
/// masterField := len:varint bytes
/// entry     := flags:u8 msDelta:varint seqPart:varint body
/// body      := value{masterCount}                       (flags bit 0 set: same fields as master)
///            | pairCount:varint (field value){pairCount}  (flags bit 0 clear)
/// ```
/// IDs are relative to the previous entry, the first entry's "previous" being the block's first
/// ID from the block header: `ms = prev.ms + msDelta`; `seq = msDelta == 0 ? prev.seq + seqPart : seqPart`.
public enum BlockCodec {
    /// Flag bit: the entry's fields are exactly the master fields, so only values are stored.
    public static let sameFieldsFlag: UInt8 = 0x01

    /// Upper bound on a decoded block's raw size that a reader accepts (guards allocation).
    public static let maxRawLength = 1 << 30

    /// Encodes `entries` (non-empty, IDs strictly increasing) as a raw block payload.
    public static func encode(_ entries: [StreamEntry]) -> [UInt8] {
        precondition(!entries.isEmpty)
        var w = ByteWriter(capacity: 4096)
        let master = masterFields(of: entries[0])
        w.writeVarint(UInt64(master.count))
        for f in master { w.writeLengthPrefixed(f) }
        var prev = entries[0].id
        for e in entries {
            let same = hasMasterFields(e, master)
            w.writeUInt8(same ? sameFieldsFlag : 0)
            let msDelta = e.id.ms &- prev.ms
            w.writeVarint(msDelta)
            w.writeVarint(msDelta == 0 ? e.id.seq &- prev.seq : e.id.seq)
            if same {
                var i = 1
                while i < e.fields.count { w.writeLengthPrefixed(e.fields[i]); i += 2 }
            } else {
                w.writeVarint(UInt64(e.pairCount))
                for f in e.fields { w.writeLengthPrefixed(f) }
            }
            prev = e.id
        }
        return w.bytes
    }

    /// The master field list of a block that starts with `first`.
    @inlinable
    public static func masterFields(of first: StreamEntry) -> [[UInt8]] {
        var m: [[UInt8]] = []
        m.reserveCapacity(first.pairCount)
        var i = 0
        while i < first.fields.count { m.append(first.fields[i]); i += 2 }
        return m
    }

    @inlinable
    static func hasMasterFields(_ e: StreamEntry, _ master: [[UInt8]]) -> Bool {
        guard e.pairCount == master.count else { return false }
        var i = 0
        while i < master.count {
            if e.fields[2 * i] != master[i] { return false }
            i += 1
        }
        return true
    }

    /// Decodes a raw block payload holding `count` entries whose first ID is `firstID`.
    /// Throws a `FormatError` at the exact offset of the first malformed byte; `baseOffset` is the
    /// payload's position used in errors (raw payloads are decompressed, so this is an offset
    /// into the decompressed payload of the block at that file offset).
    public static func decode(_ raw: UnsafeRawBufferPointer, count: Int, firstID: StreamID,
                              file: String, baseOffset: UInt64 = 0) throws(FormatError) -> [StreamEntry] {
        var out: [StreamEntry] = []
        // `count` comes from a block header: every entry takes at least 3 payload bytes, so a
        // larger count is damage that `visit` reports; never let it size an allocation.
        out.reserveCapacity(Swift.max(0, Swift.min(count, raw.count / 3)))
        try visit(raw, count: count, firstID: firstID, file: file, baseOffset: baseOffset) { (e: StreamEntry) in
            out.append(e)
        }
        return out
    }

    /// Decodes entries one by one and passes each to `body`. Checks ID order.
    public static func visit(_ raw: UnsafeRawBufferPointer, count: Int, firstID: StreamID,
                             file: String, baseOffset: UInt64 = 0,
                             _ body: (StreamEntry) -> Void) throws(FormatError) {
        try withoutActuallyEscaping(body) { (body) throws(FormatError) in
            var sink = EntrySink(body)
            try walk(raw, count: count, firstID: firstID, file: file, baseOffset: baseOffset, into: &sink)
        }
    }

    /// Walks a raw block payload, checking the grammar (field counts, lengths within bounds,
    /// flags, ID order, first ID, no trailing bytes) and reporting to `sink` with views into
    /// `raw`: a sink that keeps nothing allocates nothing per entry. The one decoder of block
    /// payloads, used by the engine and the tools alike. Inlinable so that each module
    /// specializes it for its sinks: the sink's calls are then direct and mostly inlined.
    @inlinable
    public static func walk<Sink: BlockSink>(_ raw: UnsafeRawBufferPointer, count: Int, firstID: StreamID, file: String,
                                             baseOffset: UInt64 = 0, into sink: inout Sink) throws(FormatError) {
        var r = ByteReader(raw, file: file, baseOffset: baseOffset)
        guard count >= 0 else { throw r.error("negative entry count \(count)") }
        let masterCount = try r.readLength("master field count", limit: r.remaining)
        for _ in 0..<masterCount { sink.master(try string(&r, .master)) }
        var prev = firstID
        for index in 0..<count {
            let flags = try r.readUInt8("entry flags")
            guard flags & ~sameFieldsFlag == 0 else { throw r.error("unknown entry flags \(flags)") }
            let msDelta = try r.readVarint("ms delta")
            let seqPart = try r.readVarint("seq part")
            let (ms, msOverflow) = prev.ms.addingReportingOverflow(msDelta)
            var id = StreamID(ms, seqPart)
            if msDelta == 0 {
                let (seq, o) = prev.seq.addingReportingOverflow(seqPart)
                guard !o else { throw r.error("seq overflows") }
                id.seq = seq
            }
            guard !msOverflow else { throw r.error("ms overflows") }
            if index == 0 {
                guard id == firstID else { throw r.error("first entry \(id) differs from block first ID \(firstID)") }
            } else {
                guard id > prev else { throw r.error("entry ID \(id) not greater than previous \(prev)") }
            }
            let same = flags & sameFieldsFlag != 0
            sink.entry(id, sameFields: same)
            if same {
                for i in 0..<masterCount { sink.value(i, try string(&r, .value)) }
            } else {
                let pairs = try r.readLength("pair count", limit: r.remaining / 2)
                for _ in 0..<(2 * pairs) { sink.field(try string(&r, .field)) }
            }
            sink.endEntry()
            if sink.isDone { return }
            prev = id
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) trailing bytes after \(count) entries") }
    }

    @usableFromInline enum StringKind { case master, field, value }

    /// Reads one length-prefixed string as a view into `r`'s bytes (labels are literals: a
    /// message is built only on an error).
    @inlinable @inline(__always)
    static func string(_ r: inout ByteReader, _ kind: StringKind) throws(FormatError) -> UnsafeRawBufferPointer {
        let n: Int
        switch kind {
        case .master: n = try r.readLength("master field length", limit: r.remaining)
        case .field: n = try r.readLength("field length", limit: r.remaining)
        case .value: n = try r.readLength("value length", limit: r.remaining)
        }
        return try r.readView(n, "string")
    }
}

/// What `BlockCodec.walk` reports while it walks a block. The views are valid only during the call.
public protocol BlockSink {
    /// A master field (before any entry).
    mutating func master(_ bytes: UnsafeRawBufferPointer)
    /// An entry starts; its fields follow.
    mutating func entry(_ id: StreamID, sameFields: Bool)
    /// The value of master field `index` (entries with the same-fields flag).
    mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer)
    /// A field or value of an entry with its own fields, in order.
    mutating func field(_ bytes: UnsafeRawBufferPointer)
    /// The entry is complete.
    mutating func endEntry()
    /// True once the sink wants no more entries: the walk stops after the current one (the
    /// rest of the block is not parsed; its payload CRC was checked before).
    var isDone: Bool { get }
}

extension BlockSink {
    /// Walks every entry.
    @inlinable public var isDone: Bool { false }
}

/// A sink that materializes each entry and hands it on.
public struct EntrySink: BlockSink {
    var masterFields: [[UInt8]] = []
    var current = StreamEntry(id: .zero, fields: [])
    let body: (StreamEntry) -> Void
    /// Creates a sink calling `body` with every entry.
    public init(_ body: @escaping (StreamEntry) -> Void) { self.body = body }
    public mutating func master(_ bytes: UnsafeRawBufferPointer) { masterFields.append(Array(bytes)) }
    public mutating func entry(_ id: StreamID, sameFields: Bool) {
        current = StreamEntry(id: id, fields: [])
        current.fields.reserveCapacity(sameFields ? 2 * masterFields.count : 4)
    }
    public mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        current.fields.append(masterFields[index])
        current.fields.append(Array(bytes))
    }
    public mutating func field(_ bytes: UnsafeRawBufferPointer) { current.fields.append(Array(bytes)) }
    public mutating func endEntry() { body(current) }
}
