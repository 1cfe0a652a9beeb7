import NIOCore

/// Incremental parser for client commands, a faithful port of Redis's `processMultibulkBuffer`
/// and `processInlineBuffer` (networking.c) and `sdssplitargs` (sds.c).
///
/// Feed it the receive buffer: ``next(_:)`` returns one complete request and consumes its bytes,
/// or returns `nil` when more bytes are needed. While a request is incomplete the parser consumes
/// nothing and remembers how far it got, so the next call must see the same unread bytes followed
/// by any new ones (which is what `ByteToMessageHandler` and `NIOSingleStepByteToMessageProcessor`
/// do). The result does not depend on how the bytes were chunked.
///
/// Multibulk requests (`*N\r\n$len\r\n…`) yield arguments that are slices of the buffer (no copy).
/// Inline requests (any first byte other than `*`) are split like `sdssplitargs`: double quotes with
/// `\n \r \t \b \a \\ \" \xHH` escapes, single quotes with `\'`. Requests with no arguments (`*0`,
/// `*-1`, blank lines) are skipped.
///
/// Redis quirks kept on purpose, so that the same bytes produce the same outcome:
/// - the byte after the `\r` of a count line, and the two bytes after a bulk payload, are skipped
///   without being checked;
/// - counts are parsed with `string2ll` (no `+`, no leading zeros, no `-0`, at most 20 characters);
/// - a NUL byte ends the search for a line terminator (Redis uses `strchr`), so a count or inline
///   line containing NUL waits for more data until the 64 KiB line limit is exceeded.
///
/// After a ``RESPProtocolError`` the parser stays failed and rethrows it: reply with
/// ``RESPProtocolError/writeReply(into:)`` and close the connection, as Redis does.
public struct RESPRequestParser: Sendable {
    /// The limits applied to the following requests.
    public var limits: RESPLimits

    /// When `true`, as for a connection that has not authenticated yet on a server with a password,
    /// multibulks of more than 10 arguments and bulks longer than 16384 bytes are refused with
    /// `Protocol error: unauthenticated multibulk length` / `unauthenticated bulk length` (Redis 7.x).
    public var authenticationRequired: Bool = false

    private enum Mode: Sendable { case idle, multibulk, inline }

    private var mode: Mode = .idle
    /// Bytes of the current request already parsed, relative to the buffer's reader index.
    private var cursor = 0
    /// Bytes of the current line (starting at `cursor`) already searched for its terminator.
    private var lineScanned = 0
    /// Arguments still expected; 0 while the `*N` line has not been parsed.
    private var multibulkRemaining = 0
    /// Length of the bulk being read, -1 while its `$len` line has not been parsed.
    private var bulkLength = -1
    /// Where the parsed arguments are, relative to the reader index.
    private var argumentRanges: [Range<Int>] = []
    private var failure: RESPProtocolError?

    /// Creates a parser with the given limits.
    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Returns the next complete request in `buffer` and consumes its bytes, or `nil` if more bytes are needed.
    ///
    /// Skipped empty requests are consumed. Pipelined requests are returned one per call.
    /// - Throws: ``RESPProtocolError`` with Redis's message when the input is not valid.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPRequest? {
        if let failure { throw failure }
        do {
            return try parse(&buffer)
        } catch {
            failure = error
            throw error
        }
    }

    /// `true` when part of a request (its `*N` line at least) has been parsed and the parser is
    /// waiting for the rest.
    public var isInsideRequest: Bool { cursor > 0 }

    // MARK: - Implementation

    private mutating func parse(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPRequest? {
        while true {
            if mode == .idle {
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
                mode = first == UInt8(ascii: "*") ? .multibulk : .inline
            }
            let request: RESPRequest?
            switch mode {
            case .multibulk:
                guard let outcome = try parseMultibulk(&buffer) else { return nil }
                request = outcome
            case .inline:
                guard let outcome = try parseInline(&buffer) else { return nil }
                request = outcome
            case .idle:
                preconditionFailure("unreachable")
            }
            // The request is complete (or empty): consume it and start over.
            buffer.moveReaderIndex(forwardBy: cursor)
            reset()
            if let request, !request.arguments.isEmpty { return request }
        }
    }

    private mutating func reset() {
        mode = .idle
        cursor = 0
        lineScanned = 0
        multibulkRemaining = 0
        bulkLength = -1
        argumentRanges.removeAll(keepingCapacity: true)
    }

    private enum LineSearch {
        case found(Int)
        case incomplete
        case tooLong
    }

    /// Looks for `terminator` in the line starting at `cursor`, as `strchr` would (stopping at NUL),
    /// and applies the 64 KiB rule: Redis gives up once more than `maxInlineLength` bytes are
    /// buffered from the line start without a terminator.
    private mutating func findTerminator(_ terminator: UInt8, in buffer: ByteBuffer) -> LineSearch {
        let available = buffer.readableBytes - cursor
        let limit = min(available, limits.maxInlineLength &+ 1)
        let start = cursor
        var scanned = lineScanned
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            while scanned < limit {
                let b = bytes[start + scanned]
                if b == terminator { return scanned }
                if b == 0 { return nil }
                scanned += 1
            }
            return nil
        }
        lineScanned = scanned
        if let found { return .found(start + found) }
        return available > limits.maxInlineLength ? .tooLong : .incomplete
    }

    /// Finds a complete count line starting at `cursor` and parses the number after its type byte.
    /// Returns nil when more bytes are needed, otherwise the parsed value (or nil inside) and the
    /// index just past the line.
    private mutating func countLine(
        in buffer: ByteBuffer,
        tooLong: RESPProtocolError
    ) throws(RESPProtocolError) -> (first: UInt8, value: Int64?, next: Int)? {
        switch findTerminator(UInt8(ascii: "\r"), in: buffer) {
        case .tooLong: throw tooLong
        case .incomplete: return nil
        case .found(let cr):
            // Redis only requires one more byte after '\r'; it does not check that it is '\n'.
            guard cr + 2 <= buffer.readableBytes else { return nil }
            let result = buffer.withUnsafeReadableBytes { bytes in
                // A line starting with '\r' has no number; the caller rejects its type byte first.
                (bytes[cursor], cr > cursor ? Self.string2ll(UnsafeRawBufferPointer(rebasing: bytes[(cursor + 1)..<cr])) : nil)
            }
            return (result.0, result.1, cr + 2)
        }
    }

    private mutating func parseMultibulk(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPRequest?? {
        if multibulkRemaining == 0 {
            guard let line = try countLine(in: buffer, tooLong: .tooBigMultibulkCount) else { return nil }
            guard let count = line.value, count <= Int64(limits.maxMultibulkLength) else {
                throw .invalidMultibulkLength
            }
            if count > 10 && authenticationRequired { throw .unauthenticatedMultibulkLength }
            cursor = line.next
            lineScanned = 0
            if count <= 0 { return .some(nil) }
            multibulkRemaining = Int(count)
            bulkLength = -1
            argumentRanges.reserveCapacity(min(Int(count), 1024))
        }
        while multibulkRemaining > 0 {
            if bulkLength == -1 {
                guard let line = try countLine(in: buffer, tooLong: .tooBigBulkCount) else { return nil }
                if line.first != UInt8(ascii: "$") { throw .expectedDollar(got: line.first) }
                guard let length = line.value, length >= 0, length <= Int64(limits.maxBulkLength) else {
                    throw .invalidBulkLength
                }
                if length > 16384 && authenticationRequired { throw .unauthenticatedBulkLength }
                cursor = line.next
                lineScanned = 0
                bulkLength = Int(length)
            }
            // The payload plus two bytes (meant to be CRLF, not checked by Redis).
            guard buffer.readableBytes - cursor >= bulkLength + 2 else { return nil }
            argumentRanges.append(cursor..<(cursor + bulkLength))
            cursor += bulkLength + 2
            bulkLength = -1
            multibulkRemaining -= 1
        }
        let base = buffer.readerIndex
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(argumentRanges.count)
        for range in argumentRanges {
            arguments.append(buffer.getSlice(at: base + range.lowerBound, length: range.count)!)
        }
        return .some(RESPRequest(arguments: arguments, isInline: false))
    }

    private mutating func parseInline(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPRequest?? {
        switch findTerminator(UInt8(ascii: "\n"), in: buffer) {
        case .tooLong: throw .tooBigInline
        case .incomplete: return nil
        case .found(let newline):
            let split = buffer.withUnsafeReadableBytes { bytes in
                var end = newline
                if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                return Self.splitArgs(UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
            }
            cursor = newline + 1
            guard let split else { throw .unbalancedQuotes }
            return .some(RESPRequest(arguments: split.map { ByteBuffer(bytes: $0) }, isInline: true))
        }
    }

    // MARK: - Ports of Redis helpers

    /// Redis's `string2ll`: strict decimal, optional `-`, no leading zeros, fewer than 21 characters.
    static func string2ll(_ s: UnsafeRawBufferPointer) -> Int64? {
        let n = s.count
        if n == 0 || n >= 21 { return nil }
        if n == 1 && s[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if i == n { return nil }
        }
        guard s[i] >= UInt8(ascii: "1") && s[i] <= UInt8(ascii: "9") else { return nil }
        var v = UInt64(s[i] &- 48)
        i += 1
        while i < n, s[i] >= UInt8(ascii: "0"), s[i] <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            if o1 { return nil }
            let (a, o2) = m.addingReportingOverflow(UInt64(s[i] &- 48))
            if o2 { return nil }
            v = a
            i += 1
        }
        if i < n { return nil }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int64(v)
    }

    /// C `isspace` in the C locale.
    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool {
        c == 32 || (c >= 9 && c <= 13)
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Redis's `sdssplitargs`; `nil` means unbalanced quotes. The line is treated as a C string:
    /// reading past its end yields NUL.
    static func splitArgs(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
        let n = line.count
        @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? line[i] : 0 }
        var result: [[UInt8]] = []
        var p = 0
        while true {
            while p < n && line[p] != 0 && isSpace(line[p]) { p += 1 }
            if at(p) == 0 { return result }
            var inDoubleQuotes = false
            var inSingleQuotes = false
            var done = false
            var current: [UInt8] = []
            while !done {
                let c = at(p)
                if inDoubleQuotes {
                    if c == UInt8(ascii: "\\"), at(p + 1) == UInt8(ascii: "x"),
                        let hi = hexValue(at(p + 2)), let lo = hexValue(at(p + 3))
                    {
                        current.append(hi &* 16 &+ lo)
                        p += 3
                    } else if c == UInt8(ascii: "\\") && at(p + 1) != 0 {
                        p += 1
                        switch at(p) {
                        case UInt8(ascii: "n"): current.append(10)
                        case UInt8(ascii: "r"): current.append(13)
                        case UInt8(ascii: "t"): current.append(9)
                        case UInt8(ascii: "b"): current.append(8)
                        case UInt8(ascii: "a"): current.append(7)
                        default: current.append(at(p))
                        }
                    } else if c == UInt8(ascii: "\"") {
                        // The closing quote must be followed by a space or nothing at all.
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else if inSingleQuotes {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "'") {
                        p += 1
                        current.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else {
                    switch c {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0:
                        done = true
                    case UInt8(ascii: "\""):
                        inDoubleQuotes = true
                    case UInt8(ascii: "'"):
                        inSingleQuotes = true
                    default:
                        current.append(c)
                    }
                }
                if at(p) != 0 { p += 1 }
            }
            result.append(current)
        }
    }
}

/// A `ByteToMessageDecoder` (via `NIOSingleStepByteToMessageDecoder`) that turns a client's byte
/// stream into ``RESPRequest``s, a thin wrapper around ``RESPRequestParser``.
///
/// Use it as `ByteToMessageHandler(RESPRequestDecoder())`. On a protocol error it throws a
/// ``RESPProtocolError``, which the handler forwards as `errorCaught`; reply with
/// ``RESPProtocolError/writeReply(into:)`` and close the channel.
public struct RESPRequestDecoder: NIOSingleStepByteToMessageDecoder {
    /// Each decoded message is one client command.
    public typealias InboundOut = RESPRequest

    /// The underlying parser (holds the state of a partially received request).
    public var parser: RESPRequestParser

    /// Consulted before each request is parsed to set ``RESPRequestParser/authenticationRequired``;
    /// `nil` leaves it unchanged.
    public var authenticationRequired: (() -> Bool)?

    /// Creates a decoder with the given limits.
    public init(limits: RESPLimits = RESPLimits(), authenticationRequired: (() -> Bool)? = nil) {
        self.parser = RESPRequestParser(limits: limits)
        self.authenticationRequired = authenticationRequired
    }

    /// Decodes the next request, or returns `nil` when more bytes are needed.
    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPRequest? {
        if let authenticationRequired, !parser.isInsideRequest {
            parser.authenticationRequired = authenticationRequired()
        }
        return try parser.next(&buffer)
    }

    /// Decodes what is left when the channel closes; an incomplete trailing request is dropped.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPRequest? {
        try decode(buffer: &buffer)
    }
}
