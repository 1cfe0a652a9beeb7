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

        public init(offset: Int, header: SegmentFormat.BlockHeader, damage: FormatError?) {
            self.offset = offset
            self.header = header
            self.damage = damage
        }
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
    /// Why the header is unusable (it fails to decode, or names another segment), or nil.
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
            try checkNumber(s.headerNumber!, named: number, file: relativePath)
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
            switch BlockFrame.probe(bytes, at: off, end: end, file: relativePath) {
            case .frame(let header, let damage):
                s.frames.append(Frame(offset: off, header: header, damage: damage))
                off += header.frameLength
                continue
            case .badHeader(let error):
                let next = resync(bytes, from: off + 1, end: end, file: relativePath)
                s.gaps.append(Gap(range: off..<(next ?? end), error: error))
                guard let next else { break }
                off = next
                continue
            case .tornHeader(let error), .tornPayload(_, let error):
                s.gaps.append(Gap(range: off..<end, error: error))
            }
            break
        }
        // A damaged footer shows up as unreadable bytes at the end; it is reported once, as the footer.
        if case .damaged = s.footer, let last = s.gaps.last, last.range.upperBound == n,
           let magic = try? ByteReader(bytes, file: relativePath).view(at: last.range.lowerBound, count: 4), magic.elementsEqual(SegmentFormat.footerMagic) {
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
               case .frame = BlockFrame.probe(bytes, at: p, end: end, file: file) {
                return p
            }
            p += 1
        }
        return nil
    }

    /// Calls `body` with the raw payload of `frame` (its checksums checked by `scan`; see
    /// `BlockFrame.withRawPayload`), decompressed into `scratch` when compressed.
    public static func withRawPayload<R>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String, scratch: inout [UInt8],
                                         _ body: (UnsafeRawBufferPointer) throws(FormatError) -> R) throws(FormatError) -> R {
        let bytes = try ByteReader(bytes, file: file).view(at: frame.range.lowerBound, count: frame.range.count, "block frame")
        return try BlockFrame.withRawPayload(bytes, frame.header, file: file, offset: UInt64(frame.offset), scratch: &scratch, body)
    }

    /// The same with a scratch buffer of its own.
    public static func withRawPayload<R>(_ bytes: UnsafeRawBufferPointer, _ frame: Frame, file: String,
                                         _ body: (UnsafeRawBufferPointer) throws(FormatError) -> R) throws(FormatError) -> R {
        var scratch: [UInt8] = []
        return try withRawPayload(bytes, frame, file: file, scratch: &scratch, body)
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

    /// The segment-number rule (FORMAT.md §4.1): the number in a segment's header is the number
    /// in its file name. Readers check it; a mismatch is damage (the engine refuses the
    /// directory, fsck reports it and `--repair` rewrites the header).
    public static func checkNumber(_ header: UInt64, named number: UInt64, file: String) throws(FormatError) {
        guard header == number else {
            throw FormatError(file: file, offset: 16, "segment number \(header) differs from the file name's \(number)")
        }
    }

    /// What open learns from an unsealed segment: its frames up to the first one that is torn,
    /// fails a checksum or breaks the ID order, and where the valid bytes end.
    public struct ValidPrefix: Sendable {
        /// The frames before the cut, as footer entries.
        public var blocks: [SegmentFormat.FooterEntry]
        /// Where the valid frames end (the file is cut here).
        public var validEnd: Int64
        /// Why the scan stopped before the end of the file, or nil.
        public var cut: FormatError?

        public init(blocks: [SegmentFormat.FooterEntry], validEnd: Int64, cut: FormatError?) {
            self.blocks = blocks
            self.validEnd = validEnd
            self.cut = cut
        }
    }

    /// The stop-at-the-first-bad-frame policy, as open reads the active segment (no payload is
    /// decompressed). `known` are frames already known good (a checkpoint's list of the
    /// segment's synced blocks): the walk starts after the last of them. A frame must start
    /// after the previous one ends, except a reopened block sealed again right after its old
    /// copy: same first ID, later last ID (FORMAT.md §4.5).
    public static func validPrefix(_ bytes: UnsafeRawBufferPointer, file: String, known: [SegmentFormat.FooterEntry] = []) -> ValidPrefix {
        var blocks = known
        var offset = known.last.map { Int($0.end) } ?? SegmentFormat.headerSize
        var previous = known.last.map { (first: $0.firstID, last: $0.lastID) }
        func cut(_ e: FormatError) -> ValidPrefix { ValidPrefix(blocks: blocks, validEnd: Int64(offset), cut: e) }
        while offset < bytes.count {
            switch BlockFrame.probe(bytes, at: offset, end: bytes.count, file: file) {
            case .tornHeader(let e), .badHeader(let e), .tornPayload(_, let e), .frame(_, damage: let e?):
                return cut(e)
            case .frame(let header, damage: nil):
                // Within one file a block supersedes only the frame just before it.
                if let p = previous, BlockOrder.of(first: header.firstID, last: header.lastID, after: p.last, previousFirst: p.first) == .outOfOrder {
                    return cut(FormatError(file: file, offset: UInt64(offset + 8), "block IDs out of order"))
                }
                previous = (header.firstID, header.lastID)
                blocks.append(SegmentFormat.FooterEntry(header, at: UInt64(offset)))
                offset += header.frameLength
            }
        }
        return ValidPrefix(blocks: blocks, validEnd: Int64(offset), cut: nil)
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

/// The order blocks follow across a stream's segments (FORMAT.md §4.5), the one statement of it
/// that open, its scan and the tools check.
public enum BlockOrder: Sendable, Equatable {
    /// After every block before it.
    case follows
    /// A reopened block sealed again, in place of its old copy: it starts where the block just
    /// before it in the file starts (or first in its segment, the blocks between deleted whole),
    /// and ends later than everything before it.
    case supersedes
    /// Neither: only a damaged directory holds such a block.
    case outOfOrder

    /// Where block `first...last` stands after blocks that end at `through` (nil: none), the
    /// block just before it in the same file starting at `previousFirst` (nil: it is the first
    /// of its segment).
    public static func of(first: StreamID, last: StreamID, after through: StreamID?, previousFirst: StreamID?) -> BlockOrder {
        guard let through, first <= through else { return .follows }
        guard first == previousFirst || previousFirst == nil, last > through else { return .outOfOrder }
        return .supersedes
    }
}
