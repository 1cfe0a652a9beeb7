import NIOCore

/// A malformed request or reply.
///
/// For requests the ``message`` is exactly what `redis-server` puts after `-ERR ` before closing the
/// connection, e.g. `"Protocol error: invalid bulk length"`. Reply with ``writeReply(into:)`` (or
/// ``reply``), flush, and close.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error text after `-ERR `, with CR and LF replaced by spaces.
    public let message: String

    /// The exact bytes Redis sends after `-ERR `. They differ from ``message``'s UTF-8 only when the
    /// text quotes a byte that is not valid UTF-8 (`expected '$', got '\xff'`).
    public let messageBytes: [UInt8]

    /// Creates an error with the given text (CR and LF are replaced by spaces).
    public init(message: String) {
        self.init(bytes: Array(message.utf8))
    }

    /// Creates an error from raw message bytes (CR and LF are replaced by spaces).
    init(bytes: [UInt8]) {
        let clean = bytes.map { $0 == 13 || $0 == 10 ? 32 : $0 }
        self.messageBytes = clean
        self.message = String(decoding: clean, as: UTF8.self)
    }

    /// The reply Redis sends for this error: `-ERR <message>`.
    public var reply: RESPValue { .error("ERR " + message) }

    /// Appends `-ERR <message>\r\n` to `buffer`, byte-exact (the same in RESP2 and RESP3).
    public func writeReply(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("-ERR ")
        buffer.writeBytes(messageBytes)
        buffer.writeStaticString("\r\n")
    }

    /// `"ERR <message>"`.
    public var description: String { "ERR " + message }

    static let invalidMultibulkLength = RESPProtocolError(message: "Protocol error: invalid multibulk length")
    static let unauthenticatedMultibulkLength = RESPProtocolError(message: "Protocol error: unauthenticated multibulk length")
    static let invalidBulkLength = RESPProtocolError(message: "Protocol error: invalid bulk length")
    static let unauthenticatedBulkLength = RESPProtocolError(message: "Protocol error: unauthenticated bulk length")
    static let tooBigMultibulkCount = RESPProtocolError(message: "Protocol error: too big mbulk count string")
    static let tooBigBulkCount = RESPProtocolError(message: "Protocol error: too big bulk count string")
    static let tooBigInline = RESPProtocolError(message: "Protocol error: too big inline request")
    static let unbalancedQuotes = RESPProtocolError(message: "Protocol error: unbalanced quotes in request")

    static func expectedDollar(got byte: UInt8) -> RESPProtocolError {
        RESPProtocolError(bytes: Array("Protocol error: expected '$', got '".utf8) + [byte, UInt8(ascii: "'")])
    }
}

/// Size limits applied while decoding client requests (Redis's `proto-max-bulk-len` and friends).
public struct RESPLimits: Sendable, Hashable {
    /// The largest accepted bulk argument, in bytes (`proto-max-bulk-len`, default 512 MiB).
    public var maxBulkLength: Int
    /// The largest accepted argument count of a multibulk request (default 1024 × 1024).
    ///
    /// Redis 6.x used this fixed limit; Redis 7.x accepts up to `Int32.max` and relies on the
    /// query-buffer limit instead. Set it to `Int(Int32.max)` to mimic 7.x.
    public var maxMultibulkLength: Int
    /// The longest inline request line and the longest `*N` / `$N` count line before Redis gives up
    /// waiting for the line terminator (`PROTO_INLINE_MAX_SIZE`, 64 KiB).
    public var maxInlineLength: Int

    /// Creates limits; the defaults are Redis's.
    public init(
        maxBulkLength: Int = 512 * 1024 * 1024,
        maxMultibulkLength: Int = 1024 * 1024,
        maxInlineLength: Int = 64 * 1024
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxMultibulkLength = maxMultibulkLength
        self.maxInlineLength = maxInlineLength
    }
}

/// One client command: its arguments, the command name first.
public struct RESPRequest: Sendable, Hashable {
    /// The arguments, binary-safe. For multibulk requests they are slices of the receive buffer.
    public var arguments: [ByteBuffer]
    /// `true` when the command came in the inline (telnet) format rather than as a multibulk.
    public var isInline: Bool

    /// Creates a request.
    public init(arguments: [ByteBuffer], isInline: Bool = false) {
        self.arguments = arguments
        self.isInline = isInline
    }

    /// Creates a request from strings (convenient in tests).
    public init(_ arguments: [String], isInline: Bool = false) {
        self.init(arguments: arguments.map { ByteBuffer(string: $0) }, isInline: isInline)
    }
}
