import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The protocol version negotiated with a client (`HELLO 2` / `HELLO 3`).
public enum RESPProtocolVersion: Int, Sendable, Hashable, CaseIterable {
    /// RESP2, the default for every new connection.
    case v2 = 2
    /// RESP3, selected with `HELLO 3`.
    case v3 = 3
}

/// Serializes ``RESPValue``s to the wire format, byte for byte as `redis-server` 7.x does.
///
/// RESP3-only types are downgraded for RESP2 clients the way Redis downgrades them:
///
/// | value | RESP2 | RESP3 |
/// |---|---|---|
/// | `map` | flat array `k1 v1 k2 v2 …` | `%N` |
/// | `set`, `push` | array | `~N`, `>N` |
/// | `null`, `nullBulk` | `$-1` | `_` |
/// | `nullArray` | `*-1` | `_` |
/// | `boolean` | `:1` / `:0` | `#t` / `#f` |
/// | `double` | bulk string (`%.17g`, `inf`, `-inf`, `nan`) | `,` + same text |
/// | `bigNumber` | bulk string | `(` |
/// | `bulkError` | simple error `-…` | `!len` |
/// | `verbatimString` | bulk string of the text | `=len\r\nfmt:text` |
///
/// Simple strings and simple errors never contain CR or LF on the wire: each one is replaced by a space.
public enum RESPEncoder {
    /// Appends the encoding of `value` for a client speaking `protocol` to `buffer`. One case
    /// per value kind, the table above in code: kept in one switch so each row reads beside the
    /// table (it is long because RESP3 has many kinds, not because a case is).
    public static func encode(_ value: RESPValue, protocol version: RESPProtocolVersion, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let s):
            writeLine(prefix: UInt8(ascii: "+"), s, into: &buffer)
        case .error(let s):
            writeLine(prefix: UInt8(ascii: "-"), s, into: &buffer)
        case .integer(let n):
            writeHeader(UInt8(ascii: ":"), n, into: &buffer)
        case .bulkString(let bytes):
            writeBulk(bytes, into: &buffer)
        case .nullBulk:
            writeNull(version, resp2: "$-1\r\n", into: &buffer)
        case .nullArray:
            writeNull(version, resp2: "*-1\r\n", into: &buffer)
        case .null:
            writeNull(version, resp2: "$-1\r\n", into: &buffer)
        case .array(let items):
            writeHeader(UInt8(ascii: "*"), Int64(items.count), into: &buffer)
            for item in items { encode(item, protocol: version, into: &buffer) }
        case .boolean(let b):
            switch version {
            case .v2: buffer.writeStaticString(b ? ":1\r\n" : ":0\r\n")
            case .v3: buffer.writeStaticString(b ? "#t\r\n" : "#f\r\n")
            }
        case .double(let d):
            switch version {
            case .v2:
                withDoubleText(d) { text in
                    writeHeader(UInt8(ascii: "$"), Int64(text.count), into: &buffer)
                    buffer.writeBytes(text)
                }
                buffer.writeStaticString("\r\n")
            case .v3:
                buffer.writeInteger(UInt8(ascii: ","))
                withDoubleText(d) { text in _ = buffer.writeBytes(text) }
                buffer.writeStaticString("\r\n")
            }
        case .bigNumber(let s):
            switch version {
            case .v2:
                writeHeader(UInt8(ascii: "$"), Int64(s.utf8.count), into: &buffer)
                buffer.writeString(s)
                buffer.writeStaticString("\r\n")
            case .v3:
                writeLine(prefix: UInt8(ascii: "("), s, into: &buffer)
            }
        case .bulkError(let s):
            switch version {
            case .v2:
                writeLine(prefix: UInt8(ascii: "-"), s, into: &buffer)
            case .v3:
                writeHeader(UInt8(ascii: "!"), Int64(s.utf8.count), into: &buffer)
                buffer.writeString(s)
                buffer.writeStaticString("\r\n")
            }
        case .verbatimString(let format, let text):
            switch version {
            case .v2:
                writeBulk(text, into: &buffer)
            case .v3:
                writeHeader(UInt8(ascii: "="), Int64(format.utf8.count + 1 + text.readableBytes), into: &buffer)
                buffer.writeString(format)
                buffer.writeInteger(UInt8(ascii: ":"))
                buffer.writeImmutableBuffer(text)
                buffer.writeStaticString("\r\n")
            }
        case .map(let pairs):
            switch version {
            case .v2: writeHeader(UInt8(ascii: "*"), Int64(pairs.count) * 2, into: &buffer)
            case .v3: writeHeader(UInt8(ascii: "%"), Int64(pairs.count), into: &buffer)
            }
            for (k, v) in pairs {
                encode(k, protocol: version, into: &buffer)
                encode(v, protocol: version, into: &buffer)
            }
        case .set(let items):
            writeHeader(version == .v3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), Int64(items.count), into: &buffer)
            for item in items { encode(item, protocol: version, into: &buffer) }
        case .preencoded(var bytes):
            buffer.writeBuffer(&bytes)
        case .decimalPair(let a, let separator, let b):
            withRawWriter(maxBytes: RESPRawWriter.decimalPairBulkSize, into: &buffer) { w in
                w.bulkDecimalPair(a, separator, b)
            }
        case .push(let items):
            writeHeader(version == .v3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), Int64(items.count), into: &buffer)
            for item in items { encode(item, protocol: version, into: &buffer) }
        }
    }

    /// Returns the encoding of `value` for a client speaking `protocol` in a new buffer.
    public static func encode(_ value: RESPValue, protocol version: RESPProtocolVersion) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(value, protocol: version, into: &buffer)
        return buffer
    }

    /// Appends an aggregate header such as `*3\r\n` or `%2\r\n`, for replies streamed element by element
    /// without building a ``RESPValue`` tree. For a map in RESP2 pass twice the pair count with `*`.
    public static func writeAggregateHeader(_ prefix: UInt8, count: Int, into buffer: inout ByteBuffer) {
        writeHeader(prefix, Int64(count), into: &buffer)
    }

    /// The text Redis uses for a double reply: `%.17g`, with `inf`, `-inf` and `nan` spelled out.
    public static func doubleText(_ d: Double) -> String {
        withDoubleText(d) { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: - Primitives

    @inline(__always)
    static func writeNull(_ version: RESPProtocolVersion, resp2: StaticString, into buffer: inout ByteBuffer) {
        switch version {
        case .v2: buffer.writeStaticString(resp2)
        case .v3: buffer.writeStaticString("_\r\n")
        }
    }

    /// Writes an array header (`*count`), the same in RESP2 and RESP3.
    public static func writeArrayHeader(_ count: Int, into buffer: inout ByteBuffer) {
        writeHeader(UInt8(ascii: "*"), Int64(count), into: &buffer)
    }

    /// Writes a bulk string of `bytes`, the same in RESP2 and RESP3.
    public static func writeBulk<C: Collection>(bytes: C, into buffer: inout ByteBuffer) where C.Element == UInt8 {
        writeHeader(UInt8(ascii: "$"), Int64(bytes.count), into: &buffer)
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// Writes `prefix`, the decimal text of `value` and CRLF in one go.
    @inline(__always)
    static func writeHeader(_ prefix: UInt8, _ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { ptr in
            ptr[0] = prefix
            let n = writeDecimal(value, into: UnsafeMutableRawBufferPointer(rebasing: ptr[1...]))
            ptr[n + 1] = 13
            ptr[n + 2] = 10
            return n + 3
        }
    }

    /// Writes the decimal text of `value` at the start of `ptr` (which has room for 20 bytes) and returns its length.
    @inline(__always)
    static func writeDecimal(_ value: Int64, into ptr: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = value.magnitude
        if magnitude < 10 {
            if value < 0 {
                ptr[0] = UInt8(ascii: "-")
                ptr[1] = UInt8(truncatingIfNeeded: magnitude) &+ 48
                return 2
            }
            ptr[0] = UInt8(truncatingIfNeeded: magnitude) &+ 48
            return 1
        }
        var digits = 1
        var probe = magnitude / 10
        while probe != 0 {
            digits += 1
            probe /= 10
        }
        let sign = value < 0 ? 1 : 0
        if sign == 1 { ptr[0] = UInt8(ascii: "-") }
        var i = sign + digits - 1
        while true {
            let (q, r) = magnitude.quotientAndRemainder(dividingBy: 10)
            ptr[i] = UInt8(truncatingIfNeeded: r) &+ 48
            magnitude = q
            if q == 0 { break }
            i -= 1
        }
        return sign + digits
    }

    @inline(__always)
    static func writeBulk(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        writeHeader(UInt8(ascii: "$"), Int64(bytes.readableBytes), into: &buffer)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// Writes `prefix`, `text` with every CR and LF replaced by a space, and CRLF.
    @inline(__always)
    static func writeLine(prefix: UInt8, _ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(prefix)
        if text.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            buffer.writeBytes(text.utf8.lazy.map { $0 == 13 || $0 == 10 ? 32 : $0 })
        } else {
            buffer.writeString(text)
        }
        buffer.writeStaticString("\r\n")
    }

    /// Calls `body` with the Redis text of `d`: `%.17g`, or `nan`, `inf`, `-inf`.
    @inline(__always)
    static func withDoubleText<R>(_ d: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if d.isNaN {
            return StaticString("nan").withUTF8Buffer { body(UnsafeRawBufferPointer($0)) }
        }
        if d.isInfinite {
            return (d > 0 ? StaticString("inf") : StaticString("-inf")).withUTF8Buffer { body(UnsafeRawBufferPointer($0)) }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 40) { tmp in
            let n = Int(max(0, min(withVaList([d]) { vsnprintf(tmp.baseAddress!, 40, "%.17g", $0) }, 39)))
            // Guard against a process-wide locale with a decimal comma (Redis runs in the C locale).
            for i in 0..<n where tmp[i] == CChar(UInt8(ascii: ",")) {
                tmp[i] = CChar(UInt8(ascii: "."))
            }
            return body(UnsafeRawBufferPointer(start: tmp.baseAddress!, count: n))
        }
    }
}
