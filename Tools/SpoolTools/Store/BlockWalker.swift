import SpoolFormat

/// What `BlockWalker` reports while it walks a block.
protocol BlockSink {
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
}

/// Collects IDs only.
struct IDSink: BlockSink {
    var ids: (StreamID) -> Void
    @inline(__always) mutating func master(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func entry(_ id: StreamID, sameFields: Bool) { ids(id) }
    @inline(__always) mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func field(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func endEntry() {}
}

/// Materializes entries.
struct EntrySink: BlockSink {
    var masterFields: [[UInt8]] = []
    var current = StreamEntry(id: .zero, fields: [])
    var body: (StreamEntry) -> Void
    init(_ body: @escaping (StreamEntry) -> Void) { self.body = body }
    mutating func master(_ bytes: UnsafeRawBufferPointer) { masterFields.append(Array(bytes)) }
    mutating func entry(_ id: StreamID, sameFields: Bool) {
        current = StreamEntry(id: id, fields: [])
        current.fields.reserveCapacity(sameFields ? 2 * masterFields.count : 4)
    }
    mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        current.fields.append(masterFields[index])
        current.fields.append(Array(bytes))
    }
    mutating func field(_ bytes: UnsafeRawBufferPointer) { current.fields.append(Array(bytes)) }
    mutating func endEntry() { body(current) }
}

/// Walks a raw block payload with the same grammar and checks as `BlockCodec.visit` (field
/// counts, lengths within bounds, flags, ID order, first ID, no trailing bytes), reporting to a
/// sink: with `IDSink` nothing is allocated per entry, so fsck decodes at memory speed.
///
/// It must accept exactly what `BlockCodec.visit` accepts, with errors at the same offsets; a
/// test fuzzes both with the same damaged payloads. (It belongs in SpoolFormat next to
/// `BlockCodec`; it lives here because the tools' branch does not touch the format module.)
enum BlockWalker {
    static func walk<Sink: BlockSink>(_ raw: UnsafeRawBufferPointer, count: Int, firstID: StreamID, file: String,
                                      baseOffset: UInt64, into sink: inout Sink) throws(FormatError) {
        var r = ByteReader(raw, file: file, baseOffset: baseOffset)
        let masterCount = try r.readLength("master field count", limit: r.remaining)
        for _ in 0..<masterCount { sink.master(try string(&r, .master)) }
        var prev = firstID
        for index in 0..<count {
            let flags = try r.readUInt8("entry flags")
            guard flags & ~BlockCodec.sameFieldsFlag == 0 else { throw r.error("unknown entry flags \(flags)") }
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
            let same = flags & BlockCodec.sameFieldsFlag != 0
            sink.entry(id, sameFields: same)
            if same {
                for i in 0..<masterCount { sink.value(i, try string(&r, .value)) }
            } else {
                let pairs = try r.readLength("pair count", limit: r.remaining / 2)
                for _ in 0..<(2 * pairs) { sink.field(try string(&r, .field)) }
            }
            sink.endEntry()
            prev = id
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) trailing bytes after \(count) entries") }
    }

    enum StringKind { case master, field, value }

    /// Reads one length-prefixed string as a view into `r`'s bytes. The labels are literals on
    /// purpose: building a message per field (string interpolation) costs more than the walk.
    @inline(__always)
    static func string(_ r: inout ByteReader, _ kind: StringKind) throws(FormatError) -> UnsafeRawBufferPointer {
        let n: Int
        switch kind {
        case .master: n = try r.readLength("master field length", limit: r.remaining)
        case .field: n = try r.readLength("field length", limit: r.remaining)
        case .value: n = try r.readLength("value length", limit: r.remaining)
        }
        let start = r.offset
        try r.skip(n, "string")
        return UnsafeRawBufferPointer(rebasing: r.bytes[start..<(start + n)])
    }
}

extension SegmentScan {
    /// Decodes `frame` with `BlockWalker` into `sink`, then checks the header's last ID.
    static func walk<Sink: BlockSink>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                                      into sink: inout Sink, lastID: () -> StreamID?) throws(FormatError) {
        let h = frame.header
        let payloadOffset = UInt64(frame.offset + SegmentFormat.blockHeaderSize)
        try withRawPayload(bytes, frame, file: file) { (raw) throws(FormatError) in
            let label = h.codec == .none ? file : file + " (block at \(frame.offset), decompressed payload)"
            try BlockWalker.walk(raw, count: Int(h.count), firstID: h.firstID, file: label,
                                 baseOffset: h.codec == .none ? payloadOffset : 0, into: &sink)
        }
        let last = lastID() ?? h.firstID
        guard last == h.lastID else {
            throw FormatError(file: file, offset: UInt64(frame.offset + 24), "block header says last ID \(h.lastID), last entry is \(last)")
        }
    }

    /// Yields the IDs of `frame` (no allocation per entry), checking everything `visitEntries` checks.
    static func visitIDs(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                         _ body: (StreamID) -> Void) throws(FormatError) {
        var last: StreamID? = nil
        let result: Result<Void, FormatError> = withoutActuallyEscaping(body) { body in
            var sink = IDSink { id in
                last = id
                body(id)
            }
            do throws(FormatError) {
                try walk(bytes, frame, file: file, into: &sink) { last }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
