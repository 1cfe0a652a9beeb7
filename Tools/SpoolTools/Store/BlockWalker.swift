import SpoolFormat

/// Collects IDs only.
struct IDSink: BlockSink {
    var ids: (StreamID) -> Void
    @inline(__always) mutating func master(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func entry(_ id: StreamID, sameFields: Bool) { ids(id) }
    @inline(__always) mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func field(_ bytes: UnsafeRawBufferPointer) {}
    @inline(__always) mutating func endEntry() {}
}

/// The block decoder: `BlockCodec.walk` (SpoolFormat), the one decoder of block payloads.
enum BlockWalker {
    static func walk<Sink: BlockSink>(_ raw: UnsafeRawBufferPointer, count: Int, firstID: StreamID, file: String,
                                      baseOffset: UInt64, into sink: inout Sink) throws(FormatError) {
        try BlockCodec.walk(raw, count: count, firstID: firstID, file: file, baseOffset: baseOffset, into: &sink)
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
