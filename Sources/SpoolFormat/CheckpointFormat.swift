/// A stream's checkpoint (`state`): the counters and logical deletions as of the moment its
/// journal generation began. Written atomically (temp file, fdatasync, rename, fsync of the
/// directory). See FORMAT.md "Checkpoint".
public struct StreamCheckpoint: Sendable, Equatable {
    /// `SPOOLSTA`
    public static let magic: [UInt8] = Array("SPOOLSTA".utf8)
    /// Current version (2 added the active segment's block list, 3 the last-ID high-water
    /// mark, 4 the store journal position; versions 1 to 3, whose journal is the stream's own
    /// `journal-<generation>.log`, are still read, and upgraded on open).
    public static let version: UInt16 = 4
    /// File name.
    public static let fileName = "state"

    /// Version 1 to 3: the journal generation that continues from this checkpoint. Version 4:
    /// the store journal file of `journalPosition`.
    public var journalGeneration: UInt64
    /// Version 4: the offset in store journal file `journalGeneration` from which on this
    /// stream's records apply (nil: a format-1 checkpoint, whose journal is the stream's own).
    public var journalOffset: UInt64?

    /// Where in the store journal this stream's records continue (nil: format 1).
    public var journalPosition: JournalPosition? {
        journalOffset.map { JournalPosition(file: journalGeneration, offset: $0) }
    }
    /// Last-generated ID.
    public var lastID: StreamID
    /// Lifetime count of appended entries.
    public var entriesAdded: UInt64
    /// Largest ID removed by XDEL.
    public var maxDeletedID: StreamID
    /// Every entry with ID ≤ this was trimmed away (nil: nothing trimmed).
    public var trimmedThrough: StreamID?
    /// First IDs of sealed blocks dropped whole (all entries deleted) while their segment lives.
    public var droppedBlocks: [StreamID]
    /// IDs deleted inside blocks that are still live, ascending.
    public var tombstones: [StreamID]
    /// The unsealed active segment's blocks, all synced before this checkpoint was written, so
    /// that open scans only the frames after them (nil: none listed, the segment is scanned).
    public var activeBlocks: ActiveSegmentBlocks?
    /// The highest last-generated ID the stream had before XSETID moved it back (0-0 when it
    /// never did; version 3). Group references up to it are to entries the stream held, not to
    /// entries lost with a torn tail (FORMAT.md §8.3).
    public var lastIDHighWater: StreamID

    /// The blocks of the active (unsealed) segment as of a checkpoint. Their frames lie back to
    /// back from the segment header on, so offsets are implied by the frame lengths.
    public struct ActiveSegmentBlocks: Sendable, Equatable {
        /// The segment's number.
        public var segment: UInt64
        /// Its blocks, in file order (offsets must follow from the frame lengths).
        public var blocks: [SegmentFormat.FooterEntry]

        /// Creates a block list.
        public init(segment: UInt64, blocks: [SegmentFormat.FooterEntry]) {
            self.segment = segment
            self.blocks = blocks
        }

        /// The offset right after the last listed frame: where a scan of the segment resumes.
        public var end: UInt64 { blocks.last?.end ?? UInt64(SegmentFormat.headerSize) }
    }

    /// Creates a checkpoint.
    public init(journalGeneration: UInt64, lastID: StreamID, entriesAdded: UInt64, maxDeletedID: StreamID,
                trimmedThrough: StreamID?, droppedBlocks: [StreamID], tombstones: [StreamID],
                activeBlocks: ActiveSegmentBlocks? = nil, lastIDHighWater: StreamID = .zero, journalOffset: UInt64? = nil) {
        self.journalGeneration = journalGeneration
        self.journalOffset = journalOffset
        self.lastID = lastID
        self.entriesAdded = entriesAdded
        self.maxDeletedID = maxDeletedID
        self.trimmedThrough = trimmedThrough
        self.droppedBlocks = droppedBlocks
        self.tombstones = tombstones
        self.activeBlocks = activeBlocks
        self.lastIDHighWater = lastIDHighWater
    }

    /// Creates a checkpoint whose stream's records continue at `position` of the store journal.
    public init(position: JournalPosition, lastID: StreamID, entriesAdded: UInt64, maxDeletedID: StreamID,
                trimmedThrough: StreamID?, droppedBlocks: [StreamID], tombstones: [StreamID],
                activeBlocks: ActiveSegmentBlocks? = nil, lastIDHighWater: StreamID = .zero) {
        self.init(journalGeneration: position.file, lastID: lastID, entriesAdded: entriesAdded, maxDeletedID: maxDeletedID,
                  trimmedThrough: trimmedThrough, droppedBlocks: droppedBlocks, tombstones: tombstones,
                  activeBlocks: activeBlocks, lastIDHighWater: lastIDHighWater, journalOffset: position.offset)
    }

    /// Encodes the checkpoint (version 4 with a store journal position, else version 3); the
    /// last 4 bytes are the CRC-32C of all bytes before them.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 128 + 4 * tombstones.count + 12 * (activeBlocks?.blocks.count ?? 0))
        FileFraming.writePreamble(&w, magic: Self.magic, version: journalOffset == nil ? 3 : Self.version)
        w.writeUInt64(journalGeneration)
        w.writeFixedID(lastID)
        w.writeUInt64(entriesAdded)
        w.writeFixedID(maxDeletedID)
        w.writeUInt8(trimmedThrough == nil ? 0 : 1)
        w.writeFixedID(trimmedThrough ?? .zero)
        Self.writeIDList(droppedBlocks, into: &w)
        Self.writeIDList(tombstones, into: &w)
        if let a = activeBlocks {
            w.writeUInt8(1)
            w.writeUInt64(a.segment)
            w.writeVarint(UInt64(a.blocks.count))
            var previousFirst = StreamID.zero
            for b in a.blocks {
                w.writeVarint(UInt64(b.frameLength))
                w.writeVarint(UInt64(b.count))
                Self.writeIDDelta(from: previousFirst, to: b.firstID, into: &w)
                Self.writeIDDelta(from: b.firstID, to: b.lastID, into: &w)
                previousFirst = b.firstID
            }
        } else {
            w.writeUInt8(0)
        }
        w.writeFixedID(lastIDHighWater)
        if let o = journalOffset { w.writeUInt64(o) }
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// ID lists: count, then each ID as a varint delta from the previous one (ms delta, then
    /// seq delta when ms is equal, else the seq itself).
    static func writeIDList(_ ids: [StreamID], into w: inout ByteWriter) {
        w.writeVarint(UInt64(ids.count))
        var prev = StreamID.zero
        for id in ids {
            writeIDDelta(from: prev, to: id, into: &w)
            prev = id
        }
    }

    /// `to` (≥ `from`) as an ID delta: ms delta, then the seq delta when ms is equal, else the seq.
    static func writeIDDelta(from prev: StreamID, to id: StreamID, into w: inout ByteWriter) {
        let d = id.ms - prev.ms
        w.writeVarint(d)
        w.writeVarint(d == 0 ? id.seq - prev.seq : id.seq)
    }

    /// Reads what `writeIDDelta` wrote; the result is ≥ `prev`.
    static func readIDDelta(from prev: StreamID, _ r: inout ByteReader) throws(FormatError) -> StreamID {
        let d = try r.readVarint()
        let s = try r.readVarint()
        let (ms, o1) = prev.ms.addingReportingOverflow(d)
        let (seq, o2) = d == 0 ? prev.seq.addingReportingOverflow(s) : (s, false)
        guard !o1, !o2 else { throw r.error("id delta overflows") }
        return StreamID(ms, seq)
    }

    static func readIDList(_ r: inout ByteReader) throws(FormatError) -> [StreamID] {
        let n = try r.readLength("id count", limit: r.remaining / 2)
        var out: [StreamID] = []
        out.reserveCapacity(n)
        var prev = StreamID.zero
        for i in 0..<n {
            let id = try readIDDelta(from: prev, &r)
            guard i == 0 || id > prev else { throw r.error("id list not ascending") }
            out.append(id)
            prev = id
        }
        return out
    }

    /// Decodes and verifies a checkpoint file.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> StreamCheckpoint {
        let body = try FileFraming.verifyTrailingCRC(bytes, file: file, minimum: 8 + 4 + 4 + 8 + 16 + 8 + 16 + 17 + 2 + 4, kind: "checkpoint")
        var r = ByteReader(body, file: file)
        let v = try FileFraming.readPreamble(&r, magic: magic, versions: 1...version, kind: "checkpoint")
        let gen = try r.readUInt64()
        let last = try r.readFixedID()
        let added = try r.readUInt64()
        let maxDel = try r.readFixedID()
        let hasTrim = try r.readUInt8()
        guard hasTrim <= 1 else { throw FormatError(file: file, offset: 64, "bad trimmed flag \(hasTrim)") }
        let trim = try r.readFixedID()
        let dropped = try readIDList(&r)
        let tomb = try readIDList(&r)
        let active = v >= 2 ? try readActiveBlocks(&r) : nil
        let highWater = v >= 3 ? try r.readFixedID() : .zero
        let journalOffset = v >= 4 ? try r.readUInt64() : nil
        guard r.isAtEnd else { throw r.error("trailing bytes in checkpoint") }
        return StreamCheckpoint(journalGeneration: gen, lastID: last, entriesAdded: added, maxDeletedID: maxDel,
                                trimmedThrough: hasTrim == 1 ? trim : nil, droppedBlocks: dropped, tombstones: tomb,
                                activeBlocks: active, lastIDHighWater: highWater, journalOffset: journalOffset)
    }

    static func readActiveBlocks(_ r: inout ByteReader) throws(FormatError) -> ActiveSegmentBlocks? {
        let flagOffset = r.offset
        let present = try r.readUInt8()
        guard present <= 1 else { throw FormatError(file: r.file, offset: r.baseOffset + UInt64(flagOffset), "bad active-segment flag \(present)") }
        guard present == 1 else { return nil }
        let segment = try r.readUInt64()
        let n = try r.readLength("block count", limit: r.remaining / 4)
        var blocks: [SegmentFormat.FooterEntry] = []
        blocks.reserveCapacity(n)
        var offset = UInt64(SegmentFormat.headerSize)
        var previousFirst = StreamID.zero
        for _ in 0..<n {
            let frameLength = try r.readVarint("frame length")
            let count = try r.readVarint("entry count")
            guard frameLength >= UInt64(SegmentFormat.blockHeaderSize), frameLength <= UInt64(UInt32.max) else { throw r.error("bad frame length \(frameLength)") }
            guard count >= 1, count <= UInt64(UInt32.max) else { throw r.error("bad entry count \(count)") }
            let first = try readIDDelta(from: previousFirst, &r)
            let last = try readIDDelta(from: first, &r)
            blocks.append(SegmentFormat.FooterEntry(offset: offset, frameLength: UInt32(frameLength), count: UInt32(count), firstID: first, lastID: last))
            offset += frameLength  // ≤ 2^32 per block: no overflow for any realistic n
            previousFirst = first
        }
        return ActiveSegmentBlocks(segment: segment, blocks: blocks)
    }
}
