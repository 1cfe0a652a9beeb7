import NIOCore

/// Incremental parser for RESP2 and RESP3 values as sent by a server (replies and pushes).
///
/// ``parse(from:)`` returns one complete value and consumes its bytes, or returns `nil` without
/// consuming anything when the value is not complete yet. All types are understood: `+ - : $ *`
/// (including `$-1` and `*-1`) and RESP3's `_ # , ( ! = % ~ >`. Attributes (`|N`) are parsed and
/// skipped: the value that follows them is returned. Streamed RESP3 aggregates (`*?`, `$?`) are
/// not supported, since Redis never sends them.
///
/// The parser is iterative, so deep nesting cannot overflow the stack; more than ``maxDepth``
/// open aggregates is an error.
public struct RESPParser: Sendable {
    /// The maximum number of aggregates (arrays, maps, sets, pushes, attributes) open at once.
    public var maxDepth: Int
    /// The largest accepted bulk string, bulk error or verbatim string, in bytes.
    public var maxBulkLength: Int

    /// Creates a parser.
    public init(maxDepth: Int = 1000, maxBulkLength: Int = 512 * 1024 * 1024) {
        self.maxDepth = maxDepth
        self.maxBulkLength = maxBulkLength
    }

    /// Parses one value from the readable bytes of `buffer`.
    ///
    /// - Returns: the value, with its bytes consumed, or `nil` if more bytes are needed (nothing consumed).
    /// - Throws: ``RESPProtocolError`` when the bytes are not valid RESP.
    public mutating func parse(from buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        let snapshot = buffer
        let outcome = snapshot.withUnsafeReadableBytes { bytes in
            var reader = Reader(bytes: bytes, source: snapshot, maxDepth: maxDepth, maxBulkLength: maxBulkLength)
            return reader.run()
        }
        switch outcome {
        case .success(nil):
            return nil
        case .success(.some(let (value, length))):
            buffer.moveReaderIndex(forwardBy: length)
            return value
        case .failure(let error):
            throw error
        }
    }

    /// Parses every complete value in `buffer`, consuming them; a trailing incomplete value is left unread.
    public mutating func parseAll(from buffer: inout ByteBuffer) throws(RESPProtocolError) -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try parse(from: &buffer) {
            values.append(value)
        }
        return values
    }
}

private struct Reader {
    enum Kind { case array, set, push, map, attribute }

    struct Frame {
        var kind: Kind
        var remaining: Int
        var items: [RESPValue]
    }

    let bytes: UnsafeRawBufferPointer
    let source: ByteBuffer
    let maxDepth: Int
    let maxBulkLength: Int

    static let expectedCRLF = RESPProtocolError(message: "Protocol error: expected CRLF")
    static let invalidBulkLength = RESPProtocolError(message: "Protocol error: invalid bulk length")
    static let invalidAggregateLength = RESPProtocolError(message: "Protocol error: invalid aggregate length")
    static let tooDeep = RESPProtocolError(message: "Protocol error: too many nested aggregates")

    /// Finds the line starting at `start`: returns the index of its `\r` and the index after `\n`,
    /// nil if incomplete.
    func line(from start: Int) throws(RESPProtocolError) -> (end: Int, next: Int)? {
        var i = start
        let n = bytes.count
        while i < n {
            if bytes[i] == 13 {
                guard i + 1 < n else { return nil }
                guard bytes[i + 1] == 10 else { throw Self.expectedCRLF }
                return (i, i + 2)
            }
            if bytes[i] == 10 { throw Self.expectedCRLF }
            i += 1
        }
        return nil
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Strict signed decimal: optional sign, at least one digit, no overflow.
    func integer(_ range: Range<Int>) -> Int64? {
        var i = range.lowerBound
        guard i < range.upperBound else { return nil }
        var negative = false
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < range.upperBound else { return nil }
        var v: UInt64 = 0
        while i < range.upperBound {
            let d = bytes[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        return v > UInt64(Int64.max) ? nil : Int64(v)
    }

    /// Reads a `<len>\r\n<payload>\r\n` body whose length line starts at `start`.
    /// Returns nil (need more) or the payload range and the index after it; a length of -1 gives an empty range at -1.
    func bulk(from start: Int, allowNull: Bool) throws(RESPProtocolError) -> (payload: Range<Int>?, next: Int)? {
        guard let header = try line(from: start) else { return nil }
        guard let length = integer(start..<header.end) else { throw Self.invalidBulkLength }
        if length == -1 && allowNull { return (nil, header.next) }
        guard length >= 0, length <= Int64(maxBulkLength) else { throw Self.invalidBulkLength }
        let payloadEnd = header.next + Int(length)
        guard payloadEnd + 2 <= bytes.count else { return nil }
        guard bytes[payloadEnd] == 13, bytes[payloadEnd + 1] == 10 else { throw Self.expectedCRLF }
        return (header.next..<payloadEnd, payloadEnd + 2)
    }

    func slice(_ range: Range<Int>) -> ByteBuffer {
        source.getSlice(at: source.readerIndex + range.lowerBound, length: range.count)!
    }

    mutating func run() -> Result<(RESPValue, Int)?, RESPProtocolError> {
        do throws(RESPProtocolError) {
            return .success(try parseOne())
        } catch {
            return .failure(error)
        }
    }

    /// Longer than the rest on purpose: it is the RESP2/RESP3 grammar in one loop, one case per
    /// type byte, with an explicit stack of open aggregates instead of recursion (a hostile
    /// nesting depth cannot exhaust the thread's stack); split per type, every case would need
    /// the cursor, the stack and the incomplete-input exits passed around.
    mutating func parseOne() throws(RESPProtocolError) -> (RESPValue, Int)? {
        var pos = 0
        var stack: [Frame] = []
        let n = bytes.count
        outer: while true {
            guard pos < n else { return nil }
            let type = bytes[pos]
            let start = pos + 1
            var value: RESPValue
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "#"),
                UInt8(ascii: ","), UInt8(ascii: "("):
                guard let l = try line(from: start) else { return nil }
                pos = l.next
                let range = start..<l.end
                switch type {
                case UInt8(ascii: "+"):
                    value = .simpleString(text(range))
                case UInt8(ascii: "-"):
                    value = .error(text(range))
                case UInt8(ascii: ":"):
                    guard let v = integer(range) else {
                        throw RESPProtocolError(message: "Protocol error: invalid integer")
                    }
                    value = .integer(v)
                case UInt8(ascii: "_"):
                    guard range.isEmpty else { throw RESPProtocolError(message: "Protocol error: invalid null") }
                    value = .null
                case UInt8(ascii: "#"):
                    guard range.count == 1, bytes[start] == UInt8(ascii: "t") || bytes[start] == UInt8(ascii: "f") else {
                        throw RESPProtocolError(message: "Protocol error: invalid boolean")
                    }
                    value = .boolean(bytes[start] == UInt8(ascii: "t"))
                case UInt8(ascii: ","):
                    guard let d = Double(text(range)) else {
                        throw RESPProtocolError(message: "Protocol error: invalid double")
                    }
                    value = .double(d)
                default:  // "("
                    var digits = range
                    if !digits.isEmpty, bytes[digits.lowerBound] == UInt8(ascii: "-") || bytes[digits.lowerBound] == UInt8(ascii: "+") {
                        digits = digits.dropFirst()
                    }
                    guard !digits.isEmpty, digits.allSatisfy({ bytes[$0] &- 48 < 10 }) else {
                        throw RESPProtocolError(message: "Protocol error: invalid big number")
                    }
                    value = .bigNumber(text(range))
                }
            case UInt8(ascii: "$"):
                guard let b = try bulk(from: start, allowNull: true) else { return nil }
                pos = b.next
                value = b.payload.map { .bulkString(slice($0)) } ?? .nullBulk
            case UInt8(ascii: "!"):
                guard let b = try bulk(from: start, allowNull: false) else { return nil }
                pos = b.next
                value = .bulkError(text(b.payload!))
            case UInt8(ascii: "="):
                guard let b = try bulk(from: start, allowNull: false) else { return nil }
                let payload = b.payload!
                guard payload.count >= 4, bytes[payload.lowerBound + 3] == UInt8(ascii: ":") else {
                    throw RESPProtocolError(message: "Protocol error: invalid verbatim string")
                }
                pos = b.next
                value = .verbatimString(
                    format: text(payload.lowerBound..<(payload.lowerBound + 3)),
                    text: slice((payload.lowerBound + 4)..<payload.upperBound)
                )
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let l = try line(from: start) else { return nil }
                pos = l.next
                guard let count = integer(start..<l.end) else { throw Self.invalidAggregateLength }
                if count == -1 && type == UInt8(ascii: "*") {
                    value = .nullArray
                    break
                }
                guard count >= 0, count <= Int64(Int32.max) else { throw Self.invalidAggregateLength }
                let kind: Kind
                switch type {
                case UInt8(ascii: "*"): kind = .array
                case UInt8(ascii: "~"): kind = .set
                case UInt8(ascii: ">"): kind = .push
                case UInt8(ascii: "%"): kind = .map
                default: kind = .attribute
                }
                if count == 0 {
                    switch kind {
                    case .array: value = .array([])
                    case .set: value = .set([])
                    case .push: value = .push([])
                    case .map: value = .map([])
                    case .attribute: continue outer
                    }
                    break
                }
                guard stack.count < maxDepth else { throw Self.tooDeep }
                let elements = (kind == .map || kind == .attribute) ? Int(count) * 2 : Int(count)
                var items: [RESPValue] = []
                if kind != .attribute { items.reserveCapacity(min(elements, 1024)) }
                stack.append(Frame(kind: kind, remaining: elements, items: items))
                continue outer
            default:
                let shown = type >= 32 && type < 127 ? String(UnicodeScalar(type)) : "\\x" + String(type, radix: 16)
                throw RESPProtocolError(message: "Protocol error, got '\(shown)' as reply type byte")
            }
            // Deliver `value` to the enclosing aggregates, closing those that are complete.
            while true {
                guard !stack.isEmpty else { return (value, pos) }
                let top = stack.count - 1
                if stack[top].kind != .attribute {
                    stack[top].items.append(value)
                }
                stack[top].remaining -= 1
                if stack[top].remaining > 0 { continue outer }
                let frame = stack.removeLast()
                switch frame.kind {
                case .array: value = .array(frame.items)
                case .set: value = .set(frame.items)
                case .push: value = .push(frame.items)
                case .map:
                    var pairs: [(RESPValue, RESPValue)] = []
                    pairs.reserveCapacity(frame.items.count / 2)
                    var i = 0
                    while i < frame.items.count {
                        pairs.append((frame.items[i], frame.items[i + 1]))
                        i += 2
                    }
                    value = .map(pairs)
                case .attribute:
                    // Attributes decorate the value that follows them.
                    continue outer
                }
            }
        }
    }
}

/// A `ByteToMessageDecoder` (via `NIOSingleStepByteToMessageDecoder`) that turns a server's byte
/// stream into ``RESPValue``s, a thin wrapper around ``RESPParser``.
public struct RESPResponseDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each decoded message is one reply or push.
    public typealias InboundOut = RESPValue

    /// The underlying parser.
    public var parser: RESPParser

    /// Creates a decoder.
    public init(parser: RESPParser = RESPParser()) {
        self.parser = parser
    }

    /// Decodes the next value, or returns `nil` when more bytes are needed.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        try parser.parse(from: &buffer)
    }

    /// Decodes what is left when the channel closes; an incomplete trailing value is dropped.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try parser.parse(from: &buffer)
    }
}
