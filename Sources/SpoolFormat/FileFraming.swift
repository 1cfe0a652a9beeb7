/// The framing shared by Spool's files: the 16-byte preamble (magic, version, flags, reserved),
/// the 32-byte log header built on it, checksummed log records, and whole-file trailing CRCs.
/// See FORMAT.md "Conventions".
public enum FileFraming {
    /// Writes `magic` (8 bytes), `version`, flags 0 and a reserved 0.
    public static func writePreamble(_ w: inout ByteWriter, magic: [UInt8], version: UInt16) {
        w.writeBytes(magic)
        w.writeUInt16(version)
        w.writeUInt16(0)
        w.writeUInt32(0)
    }

    /// Reads and checks a preamble written by `writePreamble`; `kind` names the file in errors.
    public static func readPreamble(_ r: inout ByteReader, magic: [UInt8], version: UInt16, kind: String) throws(FormatError) {
        _ = try readPreamble(&r, magic: magic, versions: version...version, kind: kind)
    }

    /// Reads and checks a preamble whose version may be any of `versions`; returns the version.
    public static func readPreamble(_ r: inout ByteReader, magic: [UInt8], versions: ClosedRange<UInt16>, kind: String) throws(FormatError) -> UInt16 {
        let start = r.baseOffset + UInt64(r.offset)
        guard try r.readBytes(8, "\(kind) magic") == magic else { throw FormatError(file: r.file, offset: start, "bad \(kind) magic") }
        let v = try r.readUInt16()
        guard versions.contains(v) else { throw FormatError(file: r.file, offset: start + 8, "unsupported \(kind) version \(v)") }
        let flags = try r.readUInt16()
        guard flags == 0 else { throw FormatError(file: r.file, offset: start + 10, "unknown \(kind) flags \(flags)") }
        _ = try r.readUInt32()
        return v
    }

    /// Size of a log file's header.
    public static let logHeaderSize = 32

    /// The 32-byte header of a log file (journals): preamble, generation, CRC of bytes 0..<24,
    /// reserved.
    public static func encodeLogHeader(magic: [UInt8], version: UInt16, generation: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        writePreamble(&w, magic: magic, version: version)
        w.writeUInt64(generation)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        w.writeUInt32(0)
        return w.bytes
    }

    /// Decodes and checks a log header; returns the generation.
    public static func decodeLogHeader(_ bytes: UnsafeRawBufferPointer, file: String, magic: [UInt8], version: UInt16,
                                       kind: String) throws(FormatError) -> UInt64 {
        var r = ByteReader(bytes, file: file)
        guard bytes.count >= 32 else { throw r.error("file shorter than the 32-byte \(kind) header") }
        try readPreamble(&r, magic: magic, version: version, kind: kind)
        let generation = try r.readUInt64()
        let crc = try r.readUInt32()
        guard crc == CRC32C.checksum(try r.view(at: 0, count: 24, "\(kind) header")) else {
            throw FormatError(file: file, offset: 24, "\(kind) header checksum mismatch")
        }
        return generation
    }

    /// Bytes of a record before its kind byte: crc u32, length u32.
    public static let recordPrefixSize = 8
    /// Largest record body a reader accepts.
    public static let maxRecordLength = Int(Int32.max)

    /// Starts a record in `w`; returns the position to pass to `finishRecord`.
    public static func beginRecord(_ w: inout ByteWriter, kind: UInt8) -> Int {
        let start = w.count
        w.writeUInt32(0)
        w.writeUInt32(0)
        w.writeUInt8(kind)
        return start
    }

    /// Patches the length and the CRC (of the length field, kind and body) of a record.
    public static func finishRecord(_ w: inout ByteWriter, start: Int) {
        w.patchUInt32(UInt32(w.count - start - recordPrefixSize), at: start + 4)
        w.patchUInt32(CRC32C.checksum(w.bytes, range: (start + 4)..<w.count), at: start)
    }

    /// The outcome of reading the record at one position of a log.
    public enum ReadResult<Record> {
        /// A whole, valid record and the offset just past it.
        case record(Record, next: Int)
        /// The bytes end inside the record (or with none), or a zero length field starts the
        /// space reserved after the last record: a torn or clean tail at this offset (clean
        /// when `isZero(from:)` holds for the rest).
        case end
        /// The record's checksum or body is wrong at this offset.
        case corrupt(FormatError)
    }

    /// Reads the record at `offset`: checks framing and CRC, then decodes the body (kind byte
    /// first) at its absolute offset.
    public static func readRecord<Record>(_ bytes: UnsafeRawBufferPointer, at offset: Int, file: String,
                                          body decode: (UnsafeRawBufferPointer, UInt64) throws(FormatError) -> Record) -> ReadResult<Record> {
        let n = bytes.count
        guard offset >= 0, offset + recordPrefixSize + 1 <= n else { return .end }
        let r = ByteReader(bytes, file: file)
        do {
            let crc = try r.uint32(at: offset, "record crc")
            let length = Int(try r.uint32(at: offset + 4, "record length"))
            if length == 0 { return .end }  // no record is empty (the kind byte): reserved space
            guard length <= maxRecordLength else {
                return .corrupt(FormatError(file: file, offset: UInt64(offset + 4), "bad record length \(length)"))
            }
            guard offset + recordPrefixSize + length <= n else { return .end }
            let end = offset + recordPrefixSize + length
            guard CRC32C.checksum(try r.view(at: offset + 4, count: length + 4, "record")) == crc else {
                // In reserved space (zeros follow), a record that fails its checksum with nothing
                // but zeros after it is the last write, torn short.
                if end < n && isZero(bytes, from: end) { return .end }
                return .corrupt(FormatError(file: file, offset: UInt64(offset), "record checksum mismatch"))
            }
            let body = try r.view(at: offset + recordPrefixSize, count: length, "record body")
            return .record(try decode(body, UInt64(offset + recordPrefixSize)), next: end)
        } catch {
            return .corrupt(error)
        }
    }

    /// Whether every byte from `offset` on is zero: the space a log reserves past its last
    /// record (preallocated, see FORMAT.md), as opposed to the remains of a torn write.
    public static func isZero(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        guard offset < bytes.count else { return true }
        return bytes.checkedSlice(max(0, offset)..<bytes.count).allSatisfy { $0 == 0 }
    }

    /// Checks the trailing CRC-32C of a whole file (the last 4 bytes cover all bytes before them)
    /// and returns the covered bytes.
    public static func verifyTrailingCRC(_ bytes: UnsafeRawBufferPointer, file: String, minimum: Int, kind: String) throws(FormatError) -> UnsafeRawBufferPointer {
        guard bytes.count >= minimum else { throw FormatError(file: file, offset: 0, "\(kind) too short (\(bytes.count) bytes)") }
        let r = ByteReader(bytes, file: file)
        let body = try r.view(at: 0, count: bytes.count - 4, kind)
        let stored = try r.uint32(at: bytes.count - 4, "\(kind) crc")
        guard CRC32C.checksum(body) == stored else {
            throw FormatError(file: file, offset: UInt64(bytes.count - 4), "\(kind) checksum mismatch")
        }
        return body
    }
}
