/// Fixed parts of a segment file (`<number:16 hex>.seg`). See FORMAT.md "Segment files".
///
/// ```
/// segment := header(32) frame* [footer trailer(32)]
/// frame   := blockHeader(72) payload(storedLength)
/// footer  := "SFTR" blockCount:u32 footerEntry(48){blockCount}
/// ```
/// All integers little-endian.
public enum SegmentFormat {
    /// `SPOOLSEG`
    public static let magic: [UInt8] = Array("SPOOLSEG".utf8)
    /// Current segment format version.
    public static let version: UInt16 = 1
    /// Size of the segment header.
    public static let headerSize = 32
    /// Size of a block frame header.
    public static let blockHeaderSize = 72
    /// Size of one footer index entry.
    public static let footerEntrySize = 48
    /// Size of the trailer that ends a sealed segment.
    public static let trailerSize = 32
    /// `SBLK`, first bytes of every block frame.
    public static let blockMagic: [UInt8] = Array("SBLK".utf8)
    /// `SFTR`, first bytes of the footer.
    public static let footerMagic: [UInt8] = Array("SFTR".utf8)
    /// `SPOOLEND`, last bytes of a sealed segment.
    public static let trailerMagic: [UInt8] = Array("SPOOLEND".utf8)

    /// Block payload codecs.
    public enum Codec: UInt8, Sendable {
        /// Payload stored raw.
        case none = 0
        /// Payload compressed with LZ4 block format (`LZ4_compress_default`).
        case lz4 = 1
    }

    /// Segment file names: `<16 hex>.seg`.
    public static let names = NumberedFileName(prefix: "", suffix: ".seg")

    /// File name of segment `number`.
    public static func fileName(_ number: UInt64) -> String { names.name(number) }

    /// Parses a segment file name, or nil.
    public static func number(fromFileName name: String) -> UInt64? { names.number(name) }

    /// Encodes the 32-byte header of segment `number`.
    public static func encodeHeader(number: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.writeBytes(magic)
        w.writeUInt16(version)
        w.writeUInt16(0)  // flags
        w.writeUInt32(0)  // reserved
        w.writeUInt64(number)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        w.writeUInt32(0)
        return w.bytes
    }

    /// Decodes and checks a segment header; returns the segment number.
    public static func decodeHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> UInt64 {
        var r = ByteReader(bytes, file: file)
        guard bytes.count >= headerSize else { throw r.error("file shorter than the 32-byte segment header") }
        let m = try r.readBytes(8, "magic")
        guard m == magic else { throw FormatError(file: file, offset: 0, "bad segment magic") }
        let v = try r.readUInt16("version")
        guard v == version else { throw FormatError(file: file, offset: 8, "unsupported segment version \(v)") }
        let flags = try r.readUInt16("flags")
        guard flags == 0 else { throw FormatError(file: file, offset: 10, "unknown segment flags \(flags)") }
        _ = try r.readUInt32()
        let number = try r.readUInt64("segment number")
        let crc = try r.readUInt32("header crc")
        guard crc == CRC32C.checksum(try r.view(at: 0, count: 24, "segment header")) else {
            throw FormatError(file: file, offset: 24, "segment header checksum mismatch")
        }
        return number
    }

    /// The fixed header of one block frame.
    public struct BlockHeader: Sendable, Equatable {
        /// Payload codec.
        public var codec: Codec
        /// ID of the block's first entry.
        public var firstID: StreamID
        /// ID of the block's last entry.
        public var lastID: StreamID
        /// Number of entries in the block.
        public var count: UInt32
        /// Length of the decoded (raw) payload.
        public var rawLength: UInt32
        /// Length of the payload as stored after the header.
        public var storedLength: UInt32
        /// CRC-32C of the stored payload bytes.
        public var payloadCRC: UInt32
        /// The stream's entries-added counter after the block's last entry.
        public var entriesAdded: UInt64

        /// Creates a header.
        public init(codec: Codec, firstID: StreamID, lastID: StreamID, count: UInt32, rawLength: UInt32,
                    storedLength: UInt32, payloadCRC: UInt32, entriesAdded: UInt64) {
            self.codec = codec
            self.firstID = firstID
            self.lastID = lastID
            self.count = count
            self.rawLength = rawLength
            self.storedLength = storedLength
            self.payloadCRC = payloadCRC
            self.entriesAdded = entriesAdded
        }

        /// Size of the whole frame (header plus payload).
        public var frameLength: Int { blockHeaderSize + Int(storedLength) }

        /// Encodes the 72-byte header.
        public func encode() -> [UInt8] {
            var w = ByteWriter(capacity: blockHeaderSize)
            w.writeBytes(blockMagic)
            w.writeUInt8(codec.rawValue)
            w.writeBytes([0, 0, 0])
            w.writeFixedID(firstID)
            w.writeFixedID(lastID)
            w.writeUInt32(count)
            w.writeUInt32(rawLength)
            w.writeUInt32(storedLength)
            w.writeUInt32(payloadCRC)
            w.writeUInt64(entriesAdded)
            w.writeUInt32(CRC32C.checksum(w.bytes))
            w.writeUInt32(0)
            return w.bytes
        }

        /// Decodes a header from `bytes` (at least 72 bytes) found at `offset` in `file`.
        public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, offset: UInt64) throws(FormatError) -> BlockHeader {
            var r = ByteReader(bytes, file: file, baseOffset: offset)
            guard bytes.count >= blockHeaderSize else { throw r.error("truncated block header") }
            let m = try r.readBytes(4, "block magic")
            guard m == blockMagic else { throw FormatError(file: file, offset: offset, "bad block magic") }
            let crc = CRC32C.checksum(try r.view(at: 0, count: 64, "block header"))
            let stored = try r.uint32(at: 64, "block header crc")
            guard crc == stored else { throw FormatError(file: file, offset: offset + 64, "block header checksum mismatch") }
            let codecByte = try r.readUInt8("codec")
            guard let codec = Codec(rawValue: codecByte) else {
                throw FormatError(file: file, offset: offset + 4, "unknown block codec \(codecByte)")
            }
            try r.skip(3)
            let first = try r.readFixedID("first id")
            let last = try r.readFixedID("last id")
            let count = try r.readUInt32("count")
            let raw = try r.readUInt32("raw length")
            let storedLength = try r.readUInt32("stored length")
            let payloadCRC = try r.readUInt32("payload crc")
            let added = try r.readUInt64("entries added")
            guard count > 0, first <= last else { throw FormatError(file: file, offset: offset + 8, "block has no entries or first ID > last ID") }
            guard Int(raw) <= BlockCodec.maxRawLength else { throw FormatError(file: file, offset: offset + 44, "raw length \(raw) over limit") }
            if codec == .none && raw != storedLength { throw FormatError(file: file, offset: offset + 48, "raw and stored length differ for an uncompressed block") }
            return BlockHeader(codec: codec, firstID: first, lastID: last, count: count, rawLength: raw,
                               storedLength: storedLength, payloadCRC: payloadCRC, entriesAdded: added)
        }
    }

    /// One footer entry: where a block is and what it holds, so open needs no block reads.
    public struct FooterEntry: Sendable, Equatable {
        /// Offset of the block frame in the segment.
        public var offset: UInt64
        /// Length of the whole frame.
        public var frameLength: UInt32
        /// Entries in the block.
        public var count: UInt32
        /// First entry ID.
        public var firstID: StreamID
        /// Last entry ID.
        public var lastID: StreamID

        /// Creates a footer entry.
        public init(offset: UInt64, frameLength: UInt32, count: UInt32, firstID: StreamID, lastID: StreamID) {
            self.offset = offset
            self.frameLength = frameLength
            self.count = count
            self.firstID = firstID
            self.lastID = lastID
        }

        /// The entry of the frame with block header `header` at `offset`.
        public init(_ header: BlockHeader, at offset: UInt64) {
            self.init(offset: offset, frameLength: UInt32(header.frameLength), count: header.count,
                      firstID: header.firstID, lastID: header.lastID)
        }

        /// The offset right after the frame.
        public var end: UInt64 { offset + UInt64(frameLength) }
    }

    /// Encodes footer and trailer for blocks `entries`, the footer starting at `footerOffset`.
    public static func encodeFooter(_ entries: [FooterEntry], footerOffset: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 8 + entries.count * footerEntrySize + trailerSize)
        w.writeBytes(footerMagic)
        w.writeUInt32(UInt32(entries.count))
        for e in entries {
            w.writeUInt64(e.offset)
            w.writeUInt32(e.frameLength)
            w.writeUInt32(e.count)
            w.writeFixedID(e.firstID)
            w.writeFixedID(e.lastID)
        }
        let footerCRC = CRC32C.checksum(w.bytes)
        let trailerStart = w.count
        w.writeUInt64(footerOffset)
        w.writeUInt32(UInt32(entries.count))
        w.writeUInt32(footerCRC)
        w.writeUInt32(0)
        w.writeUInt32(CRC32C.checksum(w.bytes, range: trailerStart..<w.count))
        w.writeBytes(trailerMagic)
        return w.bytes
    }

    /// Where the footer starts according to the trailer of the whole segment file `bytes`,
    /// unverified (a hint for reading ahead); nil without a trailer magic.
    public static func footerOffsetHint(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        let r = ByteReader(bytes, file: "")
        guard n >= headerSize + trailerSize, let m = try? r.view(at: n - 8, count: 8), m.elementsEqual(trailerMagic),
              let offset = try? r.uint64(at: n - trailerSize) else { return nil }
        return offset < UInt64(n) ? Int(offset) : nil
    }

    /// Reads the footer of a whole segment file `bytes`; nil when the file has no trailer
    /// (an unsealed segment). Throws when a trailer is present but the footer is damaged.
    public static func decodeFooter(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> (entries: [FooterEntry], footerOffset: UInt64)? {
        let n = bytes.count
        guard n >= headerSize + trailerSize else { return nil }
        let t = n - trailerSize
        let whole = ByteReader(bytes, file: file)
        guard try whole.view(at: n - 8, count: 8, "trailer magic").elementsEqual(trailerMagic) else { return nil }
        var r = try whole.reader(at: t, count: trailerSize, "segment trailer")
        let footerOffset = try r.readUInt64("footer offset")
        let count = try r.readUInt32("footer block count")
        let footerCRC = try r.readUInt32("footer crc")
        _ = try r.readUInt32()
        let trailerCRC = try r.readUInt32("trailer crc")
        guard trailerCRC == CRC32C.checksum(try r.view(at: 0, count: 20, "segment trailer")) else {
            throw FormatError(file: file, offset: UInt64(t + 20), "segment trailer checksum mismatch")
        }
        let expectedLength = 8 + Int(count) * footerEntrySize
        guard footerOffset >= UInt64(headerSize), footerOffset <= UInt64(t), UInt64(t) - footerOffset == UInt64(expectedLength) else {
            throw FormatError(file: file, offset: UInt64(t), "footer offset \(footerOffset) inconsistent with \(count) blocks")
        }
        let fo = Int(footerOffset)
        let footerBytes = try whole.view(at: fo, count: t - fo, "footer")
        guard CRC32C.checksum(footerBytes) == footerCRC else {
            throw FormatError(file: file, offset: footerOffset, "footer checksum mismatch")
        }
        var f = ByteReader(footerBytes, file: file, baseOffset: footerOffset)
        let m = try f.readBytes(4, "footer magic")
        guard m == footerMagic else { throw FormatError(file: file, offset: footerOffset, "bad footer magic") }
        let footerCount = try f.readUInt32("footer block count")
        guard footerCount == count else {
            throw FormatError(file: file, offset: footerOffset + 4, "footer holds \(footerCount) blocks, trailer says \(count)")
        }
        var out: [FooterEntry] = []
        out.reserveCapacity(Int(count))
        var expectedOffset = UInt64(headerSize)
        var previousLast: StreamID? = nil
        var previousFirst: StreamID? = nil
        for _ in 0..<count {
            let at = UInt64(fo + f.position)
            let e = FooterEntry(offset: try f.readUInt64(), frameLength: try f.readUInt32(), count: try f.readUInt32(),
                                firstID: try f.readFixedID(), lastID: try f.readFixedID())
            guard e.offset == expectedOffset, e.frameLength >= UInt32(blockHeaderSize), e.count > 0, e.firstID <= e.lastID else {
                throw FormatError(file: file, offset: at, "footer entry inconsistent (offset \(e.offset), expected \(expectedOffset))")
            }
            // A block may supersede the one before it (same first ID, more entries): a reopened
            // tail block sealed again. Otherwise IDs strictly increase.
            if let p = previousLast, e.firstID <= p, !(e.firstID == previousFirst && e.lastID > p) {
                throw FormatError(file: file, offset: at, "footer entry IDs out of order")
            }
            previousLast = e.lastID
            previousFirst = e.firstID
            out.append(e)
            expectedOffset += UInt64(e.frameLength)
        }
        guard expectedOffset == footerOffset else {
            throw FormatError(file: file, offset: footerOffset, "blocks end at \(expectedOffset), footer starts at \(footerOffset)")
        }
        return (out, footerOffset)
    }
}

