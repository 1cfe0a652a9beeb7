/// A stream's checkpoint (`state`): the counters and logical deletions as of the moment its
/// journal generation began. Written atomically (temp file, fdatasync, rename, fsync of the
/// directory). See FORMAT.md "Checkpoint".
public struct StreamCheckpoint: Sendable, Equatable {
    /// `SPOOLSTA`
    public static let magic: [UInt8] = Array("SPOOLSTA".utf8)
    /// Current version.
    public static let version: UInt16 = 1
    /// File name.
    public static let fileName = "state"

    /// The journal generation that continues from this checkpoint.
    public var journalGeneration: UInt64
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

    /// Creates a checkpoint.
    public init(journalGeneration: UInt64, lastID: StreamID, entriesAdded: UInt64, maxDeletedID: StreamID,
                trimmedThrough: StreamID?, droppedBlocks: [StreamID], tombstones: [StreamID]) {
        self.journalGeneration = journalGeneration
        self.lastID = lastID
        self.entriesAdded = entriesAdded
        self.maxDeletedID = maxDeletedID
        self.trimmedThrough = trimmedThrough
        self.droppedBlocks = droppedBlocks
        self.tombstones = tombstones
    }

    /// Encodes the checkpoint; the last 4 bytes are the CRC-32C of all bytes before them.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 128 + 4 * tombstones.count)
        FileFraming.writePreamble(&w, magic: Self.magic, version: Self.version)
        w.writeUInt64(journalGeneration)
        w.writeFixedID(lastID)
        w.writeUInt64(entriesAdded)
        w.writeFixedID(maxDeletedID)
        w.writeUInt8(trimmedThrough == nil ? 0 : 1)
        w.writeFixedID(trimmedThrough ?? .zero)
        Self.writeIDList(droppedBlocks, into: &w)
        Self.writeIDList(tombstones, into: &w)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// ID lists: count, then each ID as a varint delta from the previous one (ms delta, then
    /// seq delta when ms is equal, else the seq itself).
    static func writeIDList(_ ids: [StreamID], into w: inout ByteWriter) {
        w.writeVarint(UInt64(ids.count))
        var prev = StreamID.zero
        for id in ids {
            let d = id.ms - prev.ms
            w.writeVarint(d)
            w.writeVarint(d == 0 ? id.seq - prev.seq : id.seq)
            prev = id
        }
    }

    static func readIDList(_ r: inout ByteReader) throws(FormatError) -> [StreamID] {
        let n = try r.readLength("id count", limit: r.remaining / 2)
        var out: [StreamID] = []
        out.reserveCapacity(n)
        var prev = StreamID.zero
        for i in 0..<n {
            let d = try r.readVarint()
            let s = try r.readVarint()
            let (ms, o1) = prev.ms.addingReportingOverflow(d)
            let (seq, o2) = d == 0 ? prev.seq.addingReportingOverflow(s) : (s, false)
            guard !o1, !o2 else { throw r.error("id list overflows") }
            let id = StreamID(ms, seq)
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
        try FileFraming.readPreamble(&r, magic: magic, version: version, kind: "checkpoint")
        let gen = try r.readUInt64()
        let last = try r.readFixedID()
        let added = try r.readUInt64()
        let maxDel = try r.readFixedID()
        let hasTrim = try r.readUInt8()
        guard hasTrim <= 1 else { throw FormatError(file: file, offset: 64, "bad trimmed flag \(hasTrim)") }
        let trim = try r.readFixedID()
        let dropped = try readIDList(&r)
        let tomb = try readIDList(&r)
        guard r.isAtEnd else { throw r.error("trailing bytes in checkpoint") }
        return StreamCheckpoint(journalGeneration: gen, lastID: last, entriesAdded: added, maxDeletedID: maxDel,
                                trimmedThrough: hasTrim == 1 ? trim : nil, droppedBlocks: dropped, tombstones: tomb)
    }
}
