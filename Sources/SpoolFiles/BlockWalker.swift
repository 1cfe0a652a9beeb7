public import SpoolFormat

/// A block sink that remembers the last entry ID it was given, which the walk checks against
/// the block header's last ID.
public protocol LastIDSink: BlockSink {
    /// The last entry ID seen, nil before the first.
    var lastID: StreamID? { get }
}

/// Materializes entries (`EntrySink`) and remembers the last ID.
public struct TrackingEntrySink: LastIDSink {
    public var inner: EntrySink
    public var lastID: StreamID? = nil
    public init(inner: EntrySink) { self.inner = inner }
    public mutating func master(_ bytes: UnsafeRawBufferPointer) { inner.master(bytes) }
    public mutating func entry(_ id: StreamID, sameFields: Bool) {
        lastID = id
        inner.entry(id, sameFields: sameFields)
    }
    public mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) { inner.value(index, bytes) }
    public mutating func field(_ bytes: UnsafeRawBufferPointer) { inner.field(bytes) }
    public mutating func endEntry() { inner.endEntry() }
}

extension SegmentScan {
    /// Decodes `frame` with `BlockCodec.walk` (the one block decoder) into `sink`, LZ4 payloads
    /// decompressed into `scratch` (reused from block to block), then checks the header's last
    /// ID. Errors inside a decompressed payload name the block and the offset in the payload.
    public static func walk<Sink: LastIDSink>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                                       scratch: inout [UInt8], into sink: inout Sink) throws(FormatError) {
        let h = frame.header
        let payloadOffset = UInt64(frame.offset + SegmentFormat.blockHeaderSize)
        try withRawPayload(bytes, frame, file: file, scratch: &scratch) { (raw) throws(FormatError) in
            do throws(FormatError) {
                try BlockCodec.walk(raw, count: Int(h.count), firstID: h.firstID, file: file,
                                    baseOffset: h.codec == .none ? payloadOffset : 0, into: &sink)
            } catch {
                guard h.codec != .none else { throw error }
                // The label is built only on an error: no string per block on the hot path.
                throw FormatError(file: file + " (block at \(frame.offset), decompressed payload)", offset: error.offset, error.reason)
            }
        }
        let last = sink.lastID ?? h.firstID
        guard last == h.lastID else {
            throw FormatError(file: file, offset: UInt64(frame.offset + 24), "block header says last ID \(h.lastID), last entry is \(last)")
        }
    }
}
