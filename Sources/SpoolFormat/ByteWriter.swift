/// Appends little-endian integers, LEB128 varints and length-prefixed byte strings to a `[UInt8]`.
/// The encoding side of every Spool file format.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Creates a writer, reserving `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written.
    @inlinable public var count: Int { bytes.count }

    /// Appends one byte.
    @inlinable public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }

    /// Appends a little-endian `UInt16`.
    @inlinable public mutating func writeUInt16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    /// Appends a little-endian `UInt32`.
    @inlinable public mutating func writeUInt32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    /// Appends a little-endian `UInt64`.
    @inlinable public mutating func writeUInt64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// Appends an unsigned LEB128 varint (1 to 10 bytes).
    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends raw bytes.
    @inlinable public mutating func writeBytes<C: Collection>(_ b: C) where C.Element == UInt8 {
        bytes.append(contentsOf: b)
    }

    /// Appends a varint length followed by the bytes.
    @inlinable public mutating func writeLengthPrefixed(_ b: [UInt8]) {
        writeVarint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    /// Appends a stream ID as two varints.
    @inlinable public mutating func writeID(_ id: StreamID) {
        writeVarint(id.ms)
        writeVarint(id.seq)
    }

    /// Appends a stream ID as two little-endian `UInt64`.
    @inlinable public mutating func writeFixedID(_ id: StreamID) {
        writeUInt64(id.ms)
        writeUInt64(id.seq)
    }

    /// Overwrites a little-endian `UInt32` at `offset` (which must already be written).
    @inlinable public mutating func patchUInt32(_ v: UInt32, at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> UInt32(8 * i)) }
    }

    /// Overwrites a little-endian `UInt64` at `offset` (which must already be written).
    @inlinable public mutating func patchUInt64(_ v: UInt64, at offset: Int) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
    }

    /// Appends `count` bytes that `body` writes in place (zeroed before it runs): one capacity
    /// check for a whole record instead of one per byte.
    @inlinable public mutating func writeInPlace(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        let start = bytes.count
        var left = count
        while left > 0 {  // copies of a zero block: a memcpy, where a generic fill goes byte by byte
            let n = min(left, ByteWriter.zeros.count)
            bytes.append(contentsOf: ByteWriter.zeros[0..<n])
            left -= n
        }
        bytes.withUnsafeMutableBytes { all in body(UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + count)])) }
    }

    @usableFromInline static let zeros = [UInt8](repeating: 0, count: 4096)

    /// Stores `value` as a varint at `offset` of `p`; returns the offset after it.
    @inlinable public static func putVarint(_ value: UInt64, _ p: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var v = value
        var o = offset
        while v >= 0x80 {
            p[o] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            o += 1
        }
        p[o] = UInt8(v)
        return o + 1
    }

    /// Size in bytes of `value` as a varint.
    @inlinable public static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }
}
