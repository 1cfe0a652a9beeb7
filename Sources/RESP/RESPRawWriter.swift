import NIOCore

/// Writes RESP headers and bulk strings straight into reserved bytes of a `ByteBuffer`: one
/// buffer access per reply part instead of three per bulk string (each `ByteBuffer` write checks
/// capacity, uniqueness and exclusivity, which was a fifth of the time of an `XRANGE … COUNT 100`).
///
/// Invariant: `position` never passes `capacity`, the number of writable bytes `RESPEncoder.withRawWriter`
/// reserved; every write is bounded by a size the caller computed with the `…Size` functions, and
/// checked with a precondition before bytes are stored.
public struct RESPRawWriter: ~Copyable {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    /// Bytes written so far.
    public private(set) var position = 0

    fileprivate init(_ base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Most bytes a header (`*n\r\n`, `$n\r\n`) takes.
    public static let headerSize = 23
    /// Most bytes a bulk string of `count` bytes takes.
    @inlinable public static func bulkSize(_ count: Int) -> Int { headerSize + count + 2 }
    /// Most bytes a bulk string holding two unsigned decimals and a separator takes.
    public static let decimalPairBulkSize = headerSize + 20 + 1 + 20 + 2

    /// `*count\r\n`.
    public mutating func arrayHeader(_ count: Int) { header(UInt8(ascii: "*"), count) }

    /// `$n\r\n` + bytes + `\r\n`.
    public mutating func bulk(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in bulk(b) }
    }

    /// `$n\r\n` + bytes + `\r\n`.
    public mutating func bulk(_ bytes: UnsafeRawBufferPointer) {
        header(UInt8(ascii: "$"), bytes.count)
        precondition(position + bytes.count + 2 <= capacity)
        if let src = bytes.baseAddress, bytes.count > 0 {
            (base + position).copyMemory(from: src, byteCount: bytes.count)
        }
        position += bytes.count
        crlf()
    }

    /// `$n\r\n` + bytes + `\r\n`, from borrowed bytes.
    public mutating func bulk(_ bytes: RawSpan) {
        bytes.withUnsafeBytes { b in bulk(b) }
    }

    /// A bulk string of the text `a<separator>b` (a stream ID is `ms-seq`).
    public mutating func bulkDecimalPair(_ a: UInt64, _ separator: UInt8, _ b: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 41) { tmp in
            let end = tmp.baseAddress! + 41
            var start = Self.formatBackwards(b, endingAt: end) - 1
            start.pointee = separator
            start = Self.formatBackwards(a, endingAt: start)
            let length = end - start
            header(UInt8(ascii: "$"), length)
            precondition(position + length + 2 <= capacity)
            (base + position).copyMemory(from: start, byteCount: length)
            position += length
        }
        crlf()
    }

    private mutating func header(_ prefix: UInt8, _ value: Int) {
        precondition(position + Self.headerSize <= capacity)
        base.storeBytes(of: prefix, toByteOffset: position, as: UInt8.self)
        position += 1
        if value < 0 {
            base.storeBytes(of: UInt8(ascii: "-"), toByteOffset: position, as: UInt8.self)
            position += 1
        }
        decimal(UInt64(value.magnitude))
        crlf()
    }

    private mutating func crlf() {
        base.storeBytes(of: 13, toByteOffset: position, as: UInt8.self)
        base.storeBytes(of: 10, toByteOffset: position + 1, as: UInt8.self)
        position += 2
    }

    /// Writes the decimal digits of `value` so that they end just before `end`, two digits per
    /// division; returns where they start (at most 20 bytes before `end`).
    @inline(__always)
    private static func formatBackwards(_ value: UInt64, endingAt end: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = end
        var v = value
        while v >= 100 {
            let (q, r) = v.quotientAndRemainder(dividingBy: 100)
            let pair = UInt8(truncatingIfNeeded: r)
            p -= 2
            p[0] = pair / 10 &+ 48
            p[1] = pair % 10 &+ 48
            v = q
        }
        let last = UInt8(truncatingIfNeeded: v)
        if last >= 10 {
            p -= 2
            p[0] = last / 10 &+ 48
            p[1] = last % 10 &+ 48
        } else {
            p -= 1
            p[0] = last &+ 48
        }
        return p
    }

    @inline(__always)
    private mutating func decimal(_ value: UInt64) {
        if value < 10 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: value) &+ 48, toByteOffset: position, as: UInt8.self)
            position += 1
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { tmp in
            let end = tmp.baseAddress! + 20
            let start = Self.formatBackwards(value, endingAt: end)
            (base + position).copyMemory(from: start, byteCount: end - start)
            position += end - start
        }
    }
}

extension RESPEncoder {
    /// Reserves `maxBytes` writable bytes in `buffer`, lets `body` fill part of them through a
    /// ``RESPRawWriter`` (which stops the process rather than write past them), and keeps what
    /// it wrote.
    public static func withRawWriter(maxBytes: Int, into buffer: inout ByteBuffer, _ body: (inout RESPRawWriter) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maxBytes) { ptr in
            var w = RESPRawWriter(ptr.baseAddress!, capacity: ptr.count)
            body(&w)
            return w.position
        }
    }
}
