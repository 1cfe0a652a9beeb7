/// A stream entry ID: `ms-seq`, two unsigned 64-bit integers, ordered by `ms` then `seq`.
///
/// Stored on disk as 16 bytes big-endian (`ms` then `seq`) wherever byte order must sort like
/// the ID (radix-tree keys), and as varints / little-endian integers elsewhere (see FORMAT.md).
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds part.
    public var ms: UInt64
    /// Sequence part.
    public var seq: UInt64

    /// Creates an ID from its two parts.
    @inlinable
    public init(_ ms: UInt64, _ seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    /// `0-0`, the smallest ID.
    public static let zero = StreamID(0, 0)
    /// `18446744073709551615-18446744073709551615`, the largest ID.
    public static let max = StreamID(.max, .max)

    @inlinable
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        lhs.ms != rhs.ms ? lhs.ms < rhs.ms : lhs.seq < rhs.seq
    }

    /// The next ID in order, or nil for `max`.
    @inlinable
    public var successor: StreamID? {
        if seq < .max { return StreamID(ms, seq + 1) }
        if ms < .max { return StreamID(ms + 1, 0) }
        return nil
    }

    /// The previous ID in order, or nil for `zero`.
    @inlinable
    public var predecessor: StreamID? {
        if seq > 0 { return StreamID(ms, seq - 1) }
        if ms > 0 { return StreamID(ms - 1, .max) }
        return nil
    }

    /// `ms-seq` in decimal, as Redis prints it.
    public var description: String { "\(ms)-\(seq)" }

    /// The ID as Redis prints it, in ASCII bytes.
    public var bytes: [UInt8] { Array(description.utf8) }

    /// The 16-byte big-endian key that sorts like the ID.
    @inlinable
    public var bigEndianKey: (UInt64, UInt64) { (ms.bigEndian, seq.bigEndian) }
}
