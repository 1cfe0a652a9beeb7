public import SpoolFormat
import SpoolIO

/// The one reader of a block frame's bytes (FORMAT.md §4.2): where a frame at an offset ends,
/// whether its checksums hold, and its decompressed payload. The engine's recovery scan, its
/// block reads and every tool go through these functions; what they do about a bad frame (stop
/// there, or step past it) is theirs.
public enum BlockFrame {
    /// What the bytes at one offset of a segment hold.
    public enum Probe: Sendable {
        /// A frame whose header passed its checks and whose bytes are all there; `damage` is
        /// the payload checksum's failure, if any.
        case frame(SegmentFormat.BlockHeader, damage: FormatError?)
        /// Fewer bytes than a block header: a write cut short.
        case tornHeader(FormatError)
        /// A header that fails its checks (magic, version, header checksum, lengths).
        case badHeader(FormatError)
        /// An intact header whose frame runs past `end`: a write cut short.
        case tornPayload(SegmentFormat.BlockHeader, FormatError)
    }

    /// Reads the frame starting at `offset` of `bytes` (which the frame may not pass `end`
    /// of), checking the header and the payload checksum. Never traps on any bytes.
    public static func probe(_ bytes: UnsafeRawBufferPointer, at offset: Int, end: Int, file: String) -> Probe {
        precondition(offset >= 0 && offset <= end && end <= bytes.count)
        let rest = end - offset
        guard rest >= SegmentFormat.blockHeaderSize else {
            return .tornHeader(FormatError(file: file, offset: UInt64(offset),
                                           "torn block header: \(rest) bytes where a \(SegmentFormat.blockHeaderSize)-byte header should be"))
        }
        let r = ByteReader(bytes, file: file)
        let header: SegmentFormat.BlockHeader
        do { header = try SegmentFormat.BlockHeader.decode(try r.view(at: offset, count: rest, "block frame"), file: file, offset: UInt64(offset)) } catch {
            return .badHeader(error)
        }
        guard header.frameLength <= rest else {
            return .tornPayload(header, FormatError(file: file, offset: UInt64(offset),
                                                    "torn block: header says \(header.frameLength) bytes, \(rest) left in the file"))
        }
        do {
            let payload = try r.view(at: offset + SegmentFormat.blockHeaderSize, count: header.frameLength - SegmentFormat.blockHeaderSize, "block payload")
            return .frame(header, damage: checkPayload(payload, header, file: file, frameOffset: offset))
        } catch {
            return .badHeader(error)
        }
    }

    /// The payload checksum's failure, or nil.
    static func checkPayload(_ payload: UnsafeRawBufferPointer, _ header: SegmentFormat.BlockHeader, file: String, frameOffset: Int) -> FormatError? {
        guard CRC32C.checksum(payload) != header.payloadCRC else { return nil }
        return FormatError(file: file, offset: UInt64(frameOffset + SegmentFormat.blockHeaderSize), "block payload checksum mismatch")
    }

    /// Verifies one whole frame (`frame` is exactly its bytes, found at `offset` of `file`):
    /// header, length and payload checksum; then writes its raw payload into the first
    /// `rawLength` bytes of `raw`, a buffer the caller may reuse from block to block.
    public static func verifyAndDecompress(_ frame: UnsafeRawBufferPointer, file: String, offset: UInt64,
                                           into raw: inout [UInt8]) throws(FormatError) -> SegmentFormat.BlockHeader {
        let header = try SegmentFormat.BlockHeader.decode(frame, file: file, offset: offset)
        guard frame.count == header.frameLength else {
            throw FormatError(file: file, offset: offset, "frame length \(frame.count) differs from the header's \(header.frameLength)")
        }
        let payload = try ByteReader(frame, file: file, baseOffset: offset).view(at: SegmentFormat.blockHeaderSize, count: frame.count - SegmentFormat.blockHeaderSize, "block payload")
        if let damage = checkPayload(payload, header, file: file, frameOffset: Int(offset)) { throw damage }
        try decompress(payload, header, file: file, payloadOffset: offset + UInt64(SegmentFormat.blockHeaderSize), into: &raw)
        return header
    }

    /// Calls `body` with the raw payload of a frame whose checksums were checked (by `probe`):
    /// the stored bytes themselves when uncompressed, else decompressed into `scratch`.
    public static func withRawPayload<R>(_ frame: UnsafeRawBufferPointer, _ header: SegmentFormat.BlockHeader, file: String, offset: UInt64,
                                         scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) throws(FormatError) -> R) throws(FormatError) -> R {
        let payload = try ByteReader(frame, file: file, baseOffset: offset).view(at: SegmentFormat.blockHeaderSize, count: header.frameLength - SegmentFormat.blockHeaderSize, "block payload")
        if header.codec == .none { return try body(payload) }
        try decompress(payload, header, file: file, payloadOffset: offset + UInt64(SegmentFormat.blockHeaderSize), into: &scratch)
        let n = Int(header.rawLength)
        return try scratch.withBytes { (raw) throws(FormatError) in try body(raw.checkedSlice(0..<n)) }
    }

    /// The raw payload into the first `rawLength` bytes of `raw` (grown as needed).
    static func decompress(_ payload: UnsafeRawBufferPointer, _ header: SegmentFormat.BlockHeader, file: String, payloadOffset: UInt64,
                           into raw: inout [UInt8]) throws(FormatError) {
        switch header.codec {
        case .none:
            if raw.count < payload.count { raw.append(contentsOf: repeatElement(0, count: payload.count - raw.count)) }
            raw.withUnsafeMutableBytes { $0.copyMemory(from: payload) }
        case .lz4:
            guard LZ4.decompress(payload, rawLength: Int(header.rawLength), into: &raw) else {
                throw FormatError(file: file, offset: payloadOffset, "LZ4 payload does not decompress to \(header.rawLength) bytes")
            }
        }
    }
}
