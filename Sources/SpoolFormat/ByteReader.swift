/// A bounds-checked cursor over untrusted bytes. Every read either returns a value or throws a
/// `FormatError` naming the file and the absolute offset: untrusted bytes never trap, in
/// release builds too. It is the one reader of file bytes: the format, the read layer, the
/// engine and the tools slice and load untrusted bytes only through it (Tools/check-sources.py
/// checks that no other file of theirs slices or loads from a raw buffer).
/// It holds an unsafe pointer: use it only inside the `withUnsafeBytes` scope that produced it.
public struct ByteReader {
    /// The bytes being decoded.
    public let bytes: UnsafeRawBufferPointer
    /// Current position, relative to `bytes`.
    public var offset: Int { position }
    @usableFromInline var position: Int
    /// The file these bytes came from, for errors.
    public let file: String
    /// Absolute offset in `file` of `bytes[0]`, for errors.
    public let baseOffset: UInt64

    /// Creates a reader over `bytes`, which start at `baseOffset` in `file`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, file: String, baseOffset: UInt64 = 0) {
        self.bytes = bytes
        self.position = 0
        self.file = file
        self.baseOffset = baseOffset
    }

    /// Bytes left to read.
    @inlinable public var remaining: Int { bytes.count - position }
    /// True when everything was read.
    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    /// An error at the current position.
    public func error(_ reason: String) -> FormatError {
        FormatError(file: file, offset: baseOffset + UInt64(position), reason)
    }

    @inlinable @inline(__always)
    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(FormatError) {
        if n < 0 || n > bytes.count - position { throw truncated(what(), need: n) }
    }

    // Errors are built out of line, so that the reads stay small enough to inline in decode loops.

    @usableFromInline @inline(never)
    func truncated(_ what: String, need n: Int) -> FormatError {
        FormatError(file: file, offset: baseOffset + UInt64(position), "truncated \(what): need \(n) bytes, \(bytes.count - position) left")
    }

    @usableFromInline @inline(never)
    func exceeds(_ what: String, _ v: UInt64, limit: Int, at start: Int) -> FormatError {
        FormatError(file: file, offset: baseOffset + UInt64(start), "\(what) \(v) exceeds limit \(limit)")
    }

    /// Reads one byte.
    @inlinable public mutating func readUInt8(_ what: String = "byte") throws(FormatError) -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads a little-endian `UInt16`.
    @inlinable public mutating func readUInt16(_ what: String = "u16") throws(FormatError) -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    /// Reads a little-endian `UInt32`.
    @inlinable public mutating func readUInt32(_ what: String = "u32") throws(FormatError) -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    /// Reads a little-endian `UInt64`.
    @inlinable public mutating func readUInt64(_ what: String = "u64") throws(FormatError) -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    @inlinable public mutating func readVarint(_ what: String = "varint") throws(FormatError) -> UInt64 {
        // Fast path for the common one-byte varint; longer ones out of line.
        if position < bytes.count, bytes[position] < 0x80 {
            defer { position += 1 }
            return UInt64(bytes[position])
        }
        return try readLongVarint(what)
    }

    @usableFromInline @inline(never)
    mutating func readLongVarint(_ what: String) throws(FormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < bytes.count else {
                throw FormatError(file: file, offset: baseOffset + UInt64(start), "truncated \(what)")
            }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 {
                throw FormatError(file: file, offset: baseOffset + UInt64(start), "\(what) overflows 64 bits")
            }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads a varint that must fit in `Int` and be at most `limit`.
    @inlinable public mutating func readLength(_ what: @autoclosure () -> String, limit: Int) throws(FormatError) -> Int {
        let start = position
        // Fast path for the common one-byte length; labels are only built on errors.
        if position < bytes.count, bytes[position] < 0x80 {
            let v = Int(bytes[position])
            guard v <= limit else { throw exceeds(what(), UInt64(v), limit: limit, at: start) }
            position += 1
            return v
        }
        let v = try readLongVarint(what())
        guard v <= UInt64(limit) else { throw exceeds(what(), v, limit: limit, at: start) }
        return Int(v)
    }

    /// Reads `n` raw bytes.
    @inlinable public mutating func readBytes(_ n: Int, _ what: String = "bytes") throws(FormatError) -> [UInt8] {
        try need(n, what)
        defer { position += n }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[position..<position + n]))
    }

    /// Reads a varint length then that many bytes.
    @inlinable public mutating func readLengthPrefixed(_ what: @autoclosure () -> String = "string") throws(FormatError) -> [UInt8] {
        let n = try readLength("\(what()) length", limit: remaining)
        try need(n, what())
        defer { position += n }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[position..<position + n]))
    }

    /// Reads a stream ID written as two varints.
    @inlinable public mutating func readID(_ what: String = "id") throws(FormatError) -> StreamID {
        let ms = try readVarint(what)
        let seq = try readVarint(what)
        return StreamID(ms, seq)
    }

    /// Reads a stream ID written as two little-endian `UInt64`.
    @inlinable public mutating func readFixedID(_ what: String = "id") throws(FormatError) -> StreamID {
        let ms = try readUInt64(what)
        let seq = try readUInt64(what)
        return StreamID(ms, seq)
    }

    /// Skips `n` bytes.
    @inlinable public mutating func skip(_ n: Int, _ what: String = "bytes") throws(FormatError) {
        try need(n, what)
        position += n
    }

    /// Reads `n` bytes as a view into `bytes` (no copy), valid as long as `bytes` is.
    @inlinable public mutating func readView(_ n: Int, _ what: StaticString = "bytes") throws(FormatError) -> UnsafeRawBufferPointer {
        if n < 0 || n > bytes.count - position { throw truncated("\(what)", need: n) }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + n])
    }

    // Random access, for what an index or a trailer points at: these read at an offset relative
    // to `bytes` and leave the position where it is.

    /// The `count` bytes at `offset` of `bytes`, as a view.
    @inlinable public func view(at offset: Int, count: Int, _ what: @autoclosure () -> String = "bytes") throws(FormatError) -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw outside(what(), offset, count)
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// A reader over the `count` bytes at `offset` of `bytes`, its errors at their absolute offsets.
    @inlinable public func reader(at offset: Int, count: Int, _ what: @autoclosure () -> String = "bytes") throws(FormatError) -> ByteReader {
        ByteReader(try view(at: offset, count: count, what()), file: file, baseOffset: baseOffset + UInt64(offset))
    }

    /// The little-endian `UInt32` at `offset` of `bytes`.
    @inlinable public func uint32(at offset: Int, _ what: @autoclosure () -> String = "u32") throws(FormatError) -> UInt32 {
        UInt32(littleEndian: try view(at: offset, count: 4, what()).loadUnaligned(as: UInt32.self))
    }

    /// The little-endian `UInt64` at `offset` of `bytes`.
    @inlinable public func uint64(at offset: Int, _ what: @autoclosure () -> String = "u64") throws(FormatError) -> UInt64 {
        UInt64(littleEndian: try view(at: offset, count: 8, what()).loadUnaligned(as: UInt64.self))
    }

    @usableFromInline @inline(never)
    func outside(_ what: String, _ offset: Int, _ count: Int) -> FormatError {
        FormatError(file: file, offset: baseOffset + UInt64(max(0, offset)),
                    "\(what): \(count) bytes at \(offset) pass the end of the \(bytes.count) bytes read")
    }
}

extension UnsafeRawBufferPointer {
    /// `self[range]` as a buffer, checked in release builds too (the standard library checks
    /// slices of unsafe buffers only in debug builds). For bytes Spool itself laid out or
    /// already verified: a range outside them is a bug and traps, it never reads past the end.
    /// Untrusted bytes go through `ByteReader`, which throws instead.
    @inlinable public func checkedSlice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice outside the buffer")
        return UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the closure's typed error.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let r: Result<R, E> = withUnsafeBytes { b in
            do throws(E) { return .success(try body(b)) } catch { return .failure(error) }
        }
        return try r.get()
    }
}
