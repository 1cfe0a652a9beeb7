/// A stream directory's `name` file: the stream's binary-safe name, so names never become file
/// names. See FORMAT.md "Name file".
///
/// ```
/// name := "SPOOLNAM" version:u16 flags:u16 reserved:u32 generation:u64 length:u32 name crc:u32
/// ```
/// `generation` grows with every rename; if a crash leaves two directories claiming one name,
/// the higher generation wins. `crc` covers all bytes before it.
public struct StreamNameFile: Sendable, Equatable {
    /// `SPOOLNAM`
    public static let magic: [UInt8] = Array("SPOOLNAM".utf8)
    /// File name.
    public static let fileName = "name"
    /// The stream's name.
    public var name: [UInt8]
    /// Rename generation.
    public var generation: UInt64

    /// Creates a name record.
    public init(name: [UInt8], generation: UInt64) {
        self.name = name
        self.generation = generation
    }

    /// Encodes the file.
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + name.count)
        w.writeBytes(Self.magic)
        w.writeUInt16(1)
        w.writeUInt16(0)
        w.writeUInt32(0)
        w.writeUInt64(generation)
        w.writeUInt32(UInt32(name.count))
        w.writeBytes(name)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes and verifies the file.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(FormatError) -> StreamNameFile {
        guard bytes.count >= 32 else { throw FormatError(file: file, offset: 0, "name file too short") }
        var r = ByteReader(bytes, file: file)
        let stored = try r.uint32(at: bytes.count - 4, "name file crc")
        guard CRC32C.checksum(try r.view(at: 0, count: bytes.count - 4, "name file")) == stored else {
            throw FormatError(file: file, offset: UInt64(bytes.count - 4), "name file checksum mismatch")
        }
        let m = try r.readBytes(8)
        guard m == magic else { throw FormatError(file: file, offset: 0, "bad name file magic") }
        let v = try r.readUInt16()
        guard v == 1 else { throw FormatError(file: file, offset: 8, "unsupported name file version \(v)") }
        let flags = try r.readUInt16()
        guard flags == 0 else { throw FormatError(file: file, offset: 10, "unknown name file flags \(flags)") }
        _ = try r.readUInt32()
        let gen = try r.readUInt64()
        let len = try r.readUInt32()
        guard Int(len) == bytes.count - 32 else { throw FormatError(file: file, offset: 24, "name length \(len) does not match file size") }
        let name = try r.readBytes(Int(len))
        return StreamNameFile(name: name, generation: gen)
    }
}
