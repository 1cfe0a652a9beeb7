public import SpoolFormat
import SpoolIO

/// The physical structure of one segment file, as far as its bytes can be read: header, block
/// frames (with their header and payload checksums checked), unreadable byte ranges, footer.
/// Payloads are not decoded here (see `SegmentScan.decodeFrame`).
public struct SegmentScan: Sendable {
    /// A block frame whose 72-byte header is intact.
    public struct Frame: Sendable {
        /// Offset of the frame in the file.
        public var offset: Int
        /// Its header.
        public var header: SegmentFormat.BlockHeader
        /// Why the frame cannot be trusted (payload checksum, decoding, ID order), or nil.
        public var damage: FormatError?
        /// Bytes from the frame's start to its end.
        public var range: Range<Int> { offset..<(offset + header.frameLength) }
        /// The frame as a footer entry.
        public var footerEntry: SegmentFormat.FooterEntry { SegmentFormat.FooterEntry(header, at: UInt64(offset)) }
    }

    /// Bytes between frames that are not a readable frame (a torn write, garbage, a frame whose
    /// header is damaged).
    public struct Gap: Sendable {
        /// The bytes.
        public var range: Range<Int>
        /// What was found at its start.
        public var error: FormatError
    }

    /// The footer's state.
    public enum Footer: Sendable {
        /// No trailer: an unsealed (active) segment, or one whose footer was never written.
        case absent
        /// A footer that passed its checks.
        case valid([SegmentFormat.FooterEntry], footerOffset: Int)
        /// A trailer is present but the footer or trailer is damaged.
        case damaged(FormatError)
    }

    /// Path of the file.
    public var path: String
    /// Path relative to the data directory, used in reports.
    public var relativePath: String
    /// The number in the file name.
    public var number: UInt64
    /// Size of the file.
    public var fileSize: Int
    /// The number in the header, when it decodes.
    public var headerNumber: UInt64?
    /// Why the header is unusable, or nil.
    public var headerError: FormatError?
    /// The footer.
    public var footer: Footer
    /// Frames with intact headers, in file order.
    public var frames: [Frame]
    /// Unreadable ranges, in file order.
    public var gaps: [Gap]

    /// Whether the file ends with a footer (valid or damaged).
    public var hasTrailer: Bool {
        if case .absent = footer { return false }
        return true
    }

    /// Whether the file ends with a valid footer: the engine then takes its blocks from it.
    public var isSealed: Bool {
        if case .valid = footer { return true }
        return false
    }

    /// Scans the whole file `bytes`. Checks the header, every frame header and payload
    /// checksum, and the footer, and compares nothing across segments.
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, number: UInt64) -> SegmentScan {
        var s = SegmentScan(path: path, relativePath: relativePath, number: number, fileSize: bytes.count,
                            headerNumber: nil, headerError: nil, footer: .absent, frames: [], gaps: [])
        let n = bytes.count
        do {
            s.headerNumber = try SegmentFormat.decodeHeader(bytes, file: relativePath)
        } catch {
            s.headerError = error
        }
        guard n > SegmentFormat.headerSize else { return s }
        var end = n
        do {
            if let f = try SegmentFormat.decodeFooter(bytes, file: relativePath) {
                s.footer = .valid(f.entries, footerOffset: Int(f.footerOffset))
                end = Int(f.footerOffset)
            }
        } catch {
            s.footer = .damaged(error)
        }
        var off = SegmentFormat.headerSize
        while off < end {
            let rest = end - off
            if rest < SegmentFormat.blockHeaderSize {
                s.gaps.append(Gap(range: off..<end, error: FormatError(file: relativePath, offset: UInt64(off),
                    "torn block header: \(rest) bytes where a 72-byte header should be")))
                break
            }
            let header: SegmentFormat.BlockHeader
            do {
                header = try SegmentFormat.BlockHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[off..<end]), file: relativePath, offset: UInt64(off))
            } catch {
                let next = resync(bytes, from: off + 1, end: end, file: relativePath)
                s.gaps.append(Gap(range: off..<(next ?? end), error: error))
                guard let next else { break }
                off = next
                continue
            }
            guard header.frameLength <= rest else {
                s.gaps.append(Gap(range: off..<end, error: FormatError(file: relativePath, offset: UInt64(off),
                    "torn block: header says \(header.frameLength) bytes, \(rest) left in the file")))
                break
            }
            var frame = Frame(offset: off, header: header, damage: nil)
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(off + SegmentFormat.blockHeaderSize)..<(off + header.frameLength)])
            if CRC32C.checksum(payload) != header.payloadCRC {
                frame.damage = FormatError(file: relativePath, offset: UInt64(off + SegmentFormat.blockHeaderSize),
                                           "block payload checksum mismatch")
            }
            s.frames.append(frame)
            off += header.frameLength
        }
        // A damaged footer shows up as unreadable bytes at the end; it is reported once, as the footer.
        if case .damaged = s.footer, let last = s.gaps.last, last.range.upperBound == n,
           last.range.count >= 4, Array(UnsafeRawBufferPointer(rebasing: bytes[last.range.lowerBound..<(last.range.lowerBound + 4)])) == SegmentFormat.footerMagic {
            s.gaps.removeLast()
        }
        return s
    }

    /// The next offset after `from` where an intact block header starts whose frame fits.
    static func resync(_ bytes: UnsafeRawBufferPointer, from: Int, end: Int, file: String) -> Int? {
        var p = from
        let magic = SegmentFormat.blockMagic
        while p + SegmentFormat.blockHeaderSize <= end {
            if bytes[p] == magic[0], bytes[p + 1] == magic[1], bytes[p + 2] == magic[2], bytes[p + 3] == magic[3],
               let h = try? SegmentFormat.BlockHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[p..<end]), file: file, offset: UInt64(p)),
               p + h.frameLength <= end {
                return p
            }
            p += 1
        }
        return nil
    }

    /// Decompresses `frame`'s payload (its checksum was checked by `scan`) and calls `body` with
    /// the raw payload bytes.
    public static func withRawPayload<R>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                                         _ body: (UnsafeRawBufferPointer) throws(FormatError) -> R) throws(FormatError) -> R {
        var scratch: [UInt8] = []
        return try withRawPayload(bytes, frame, file: file, scratch: &scratch, body)
    }

    /// The same, decompressing into `scratch`, which grows as needed and is meant to be reused
    /// from block to block (no allocation per block).
    public static func withRawPayload<R>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String, scratch: inout [UInt8],
                                         _ body: (UnsafeRawBufferPointer) throws(FormatError) -> R) throws(FormatError) -> R {
        let start = frame.offset + SegmentFormat.blockHeaderSize
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(frame.offset + frame.header.frameLength)])
        switch frame.header.codec {
        case .none:
            return try body(payload)
        case .lz4:
            let n = Int(frame.header.rawLength)
            guard LZ4.decompress(payload, rawLength: n, into: &scratch) else {
                throw FormatError(file: file, offset: UInt64(start), "LZ4 payload does not decompress to \(frame.header.rawLength) bytes")
            }
            return try scratch.withBytes { (raw) throws(FormatError) in try body(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
        }
    }

    /// Decodes every entry of `frame` (checks the payload grammar, ID order inside the block,
    /// the header's first/last ID and count) and passes each to `body`.
    public static func visitEntries(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                                    _ body: (StreamEntry) -> Void) throws(FormatError) {
        var scratch: [UInt8] = []
        let result: Result<Void, FormatError> = withoutActuallyEscaping(body) { body in
            var sink = TrackingEntrySink(inner: EntrySink(body))
            do throws(FormatError) {
                try walk(bytes, frame, file: file, scratch: &scratch, into: &sink)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Reads a segment file for scanning: mapped when sealed and immutable, read with pread
    /// when it may still be appended to (so a concurrent truncation at recovery cannot fault).
    public static func load(_ path: String, mayBeActive: Bool) throws(IOError) -> SegmentBytes {
        if mayBeActive { return .buffer(try FileSystem.readFile(path)) }
        return .mapped(try MappedFile(path: path))
    }
}

/// The bytes of a segment file: an owned buffer or a read-only mapping.
public enum SegmentBytes: Sendable {
    /// Read into memory.
    case buffer([UInt8])
    /// Mapped read-only.
    case mapped(MappedFile)

    /// Calls `body` with the bytes; the pointer must not escape.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch self {
        case .buffer(let b): return try b.withBytes(body)
        case .mapped(let m): return try m.withBytes(body)
        }
    }
}
