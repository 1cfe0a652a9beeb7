import NIOCore

/// A single value of the Redis serialization protocol (RESP2 and RESP3).
///
/// The same type is used for replies produced by the server (see ``RESPEncoder``) and for
/// replies parsed from a peer (see ``RESPParser``). Cases that only exist in RESP3 are mapped
/// to their RESP2 equivalents by the encoder, exactly as `redis-server` does for a client that
/// did not send `HELLO 3`.
public enum RESPValue: Sendable {
    /// A simple string (`+OK`). The text must not contain CR or LF; the encoder replaces them with spaces.
    case simpleString(String)
    /// A simple error: the text after `-`, e.g. `"ERR syntax error"` or `"WRONGTYPE ..."`.
    /// The encoder replaces CR and LF with spaces.
    case error(String)
    /// A signed 64-bit integer (`:42`).
    case integer(Int64)
    /// A binary-safe bulk string (`$3\r\nfoo`).
    case bulkString(ByteBuffer)
    /// The RESP2 null bulk string (`$-1`); encoded as `_` in RESP3.
    case nullBulk
    /// An array of values (`*N`).
    case array([RESPValue])
    /// The RESP2 null array (`*-1`); encoded as `_` in RESP3.
    case nullArray
    /// The RESP3 null (`_`); encoded as `$-1` in RESP2.
    case null
    /// A RESP3 boolean (`#t` / `#f`); encoded as the integer 1 or 0 in RESP2.
    case boolean(Bool)
    /// A RESP3 double (`,1.5`); encoded as a bulk string in RESP2.
    case double(Double)
    /// A RESP3 big number (`(3492890328409238509324850943850943825024385`), kept as its decimal text;
    /// encoded as a bulk string in RESP2.
    case bigNumber(String)
    /// A RESP3 bulk error (`!len`), the text without the leading `!`; encoded as a simple error in RESP2.
    case bulkError(String)
    /// A RESP3 verbatim string (`=len\r\ntxt:...`): a three-character `format` (`txt`, `mkd`) and the text.
    /// Encoded as a bulk string of the text only in RESP2.
    case verbatimString(format: String, text: ByteBuffer)
    /// A RESP3 map (`%N`) as ordered key/value pairs; encoded as a flat array `k1 v1 k2 v2 …` in RESP2.
    case map([(RESPValue, RESPValue)])
    /// A RESP3 set (`~N`); encoded as an array in RESP2.
    case set([RESPValue])
    /// A RESP3 push (`>N`), e.g. a pub/sub message; encoded as an array in RESP2.
    case push([RESPValue])
    /// Bytes already encoded as RESP that read the same in RESP2 and RESP3 (arrays of bulk
    /// strings, such as stream entries): written as they are. Lets hot replies skip building a
    /// value tree.
    case preencoded(ByteBuffer)
    /// A bulk string of two unsigned decimals and a separator byte between them, such as a
    /// stream ID `1700000000000-0`: written straight into the reply, with no buffer of its own.
    case decimalPair(UInt64, UInt8, UInt64)
}

extension RESPValue {
    /// The simple string `OK`, the most common reply.
    public static let ok: RESPValue = .simpleString("OK")

    /// A bulk string holding a copy of `bytes`.
    public static func bulk(_ bytes: [UInt8]) -> RESPValue {
        .bulkString(ByteBuffer(bytes: bytes))
    }

    /// A bulk string holding the UTF-8 bytes of `s`.
    public static func bulk(_ s: String) -> RESPValue {
        .bulkString(ByteBuffer(string: s))
    }

    /// A bulk string holding the decimal text of `n`, as Redis's `addReplyBulkLongLong` sends it.
    public static func bulk(_ n: Int64) -> RESPValue {
        .bulkString(ByteBuffer(string: String(n)))
    }
}

extension RESPValue: Equatable {
    /// Structural equality.
    ///
    /// Doubles compare with `==` except that two NaNs are considered equal, so that values
    /// survive an encode/parse round trip. Maps compare their pairs in order.
    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simpleString(let a), .simpleString(let b)): return a == b
        case (.error(let a), .error(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.bulkString(let a), .bulkString(let b)): return a == b
        case (.nullBulk, .nullBulk): return true
        case (.array(let a), .array(let b)): return a == b
        case (.nullArray, .nullArray): return true
        case (.null, .null): return true
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.bigNumber(let a), .bigNumber(let b)): return a == b
        case (.bulkError(let a), .bulkError(let b)): return a == b
        case (.verbatimString(let f1, let t1), .verbatimString(let f2, let t2)): return f1 == f2 && t1 == t2
        case (.map(let a), .map(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.0 != y.0 || x.1 != y.1 {
                return false
            }
            return true
        case (.set(let a), .set(let b)): return a == b
        case (.push(let a), .push(let b)): return a == b
        case (.preencoded(let a), .preencoded(let b)): return a == b
        case (.decimalPair(let a1, let s1, let b1), .decimalPair(let a2, let s2, let b2)): return a1 == a2 && s1 == s2 && b1 == b2
        default: return false
        }
    }
}

extension RESPValue: CustomStringConvertible {
    /// A compact, human-readable rendering for test failures and logs (not the wire format).
    public var description: String {
        switch self {
        case .simpleString(let s): return "+\(s.debugDescription)"
        case .error(let s): return "-\(s.debugDescription)"
        case .integer(let n): return ":\(n)"
        case .bulkString(let b): return "$\(Self.render(b))"
        case .nullBulk: return "$-1"
        case .array(let a): return "*[\(a.map(\.description).joined(separator: ", "))]"
        case .nullArray: return "*-1"
        case .null: return "_"
        case .boolean(let b): return b ? "#t" : "#f"
        case .double(let d): return ",\(d)"
        case .bigNumber(let s): return "(\(s)"
        case .bulkError(let s): return "!\(s.debugDescription)"
        case .verbatimString(let f, let t): return "=\(f):\(Self.render(t))"
        case .map(let pairs): return "%[\(pairs.map { "\($0.0): \($0.1)" }.joined(separator: ", "))]"
        case .set(let a): return "~[\(a.map(\.description).joined(separator: ", "))]"
        case .push(let a): return ">[\(a.map(\.description).joined(separator: ", "))]"
        case .preencoded(let b): return "<\(b.readableBytes) preencoded bytes>"
        case .decimalPair(let a, let sep, let b): return "$\"\(a)\(Character(Unicode.Scalar(sep)))\(b)\""
        }
    }

    private static func render(_ buffer: ByteBuffer) -> String {
        let bytes = buffer.readableBytesView
        if let s = String(validating: bytes, as: UTF8.self) {
            return s.debugDescription
        }
        return "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
