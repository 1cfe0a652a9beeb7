#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import NIOCore
import NIOPosix
public import RESP

/// Commands encoded for the wire, to be sent in one write (a pipeline).
///
/// Arguments are written straight into one buffer, so a batch of a thousand XADDs costs no
/// value tree and no per-command array.
public struct RedisPipeline: Sendable {
    /// The encoded commands.
    public private(set) var bytes = ByteBuffer()
    /// Number of commands (and so of replies to expect).
    public private(set) var count = 0

    /// An empty pipeline.
    public init() {}

    /// Whether no command has been added.
    public var isEmpty: Bool { count == 0 }

    /// Appends one command.
    public mutating func append(_ arguments: [[UInt8]]) {
        begin(arguments: arguments.count)
        for a in arguments { add(a) }
    }

    /// Appends one command given as text arguments.
    public mutating func append(_ arguments: String...) {
        begin(arguments: arguments.count)
        for a in arguments { add(a.utf8) }
    }

    /// Starts a command of `n` arguments; add exactly `n` with ``add(_:)``.
    public mutating func begin(arguments n: Int) {
        RESPEncoder.writeArrayHeader(n, into: &bytes)
        count += 1
    }

    /// Appends one command of `leading` arguments followed by `rest` (XADD, key and ID, then
    /// an entry's fields) without joining them into one array.
    public mutating func append(_ leading: [[UInt8]], then rest: [[UInt8]]) {
        begin(arguments: leading.count + rest.count)
        for a in leading { add(a) }
        for a in rest { add(a) }
    }

    /// Adds one argument of the command begun last.
    public mutating func add<C: Collection>(_ argument: C) where C.Element == UInt8 {
        RESPEncoder.writeBulk(bytes: argument, into: &bytes)
    }

    /// Adds one argument of the command begun last (the common case, without generic dispatch).
    public mutating func add(_ argument: [UInt8]) {
        RESPEncoder.writeBulk(bytes: argument, into: &bytes)
    }
}

/// Replies to a pipeline that has been sent, not necessarily received yet.
public struct RedisReplies: Sendable {
    let future: EventLoopFuture<[RESPValue]>
    let endpoint: String

    /// Waits for all replies, in command order. Error replies are values (`.error`), not
    /// thrown; a broken connection, a protocol error or no reply within the connection's
    /// timeout is thrown.
    public func wait() throws(ToolError) -> [RESPValue] {
        do { return try future.wait() } catch let e as ToolError { throw e } catch {
            throw ToolError("\(endpoint): \(error)")
        }
    }
}

/// A small synchronous client for a Redis-protocol server: connect (with AUTH and SELECT),
/// send pipelines, wait for their replies. `spool replay --into redis://…` and `spool import`
/// both use it.
///
/// It runs SwiftNIO on one event-loop thread of its own; callers block on replies, so it must
/// not be used from an event loop. Several pipelines may be in flight at once (``send(_:)``);
/// replies are matched to them in order, as RESP requires. It speaks RESP2, so every reply
/// arrives as RESP2 types. Not thread-safe: one caller at a time.
public final class RedisConnection {
    /// Where it is connected (with the database selected).
    public let url: RedisURL
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private var closed = false

    /// Connects to `url`'s host and port, authenticates when the URL has a password and selects
    /// its database. Fails with the server's own text (e.g. `WRONGPASS …`) or the connection
    /// error. `timeoutSeconds` bounds the connect and every wait for a reply.
    public init(_ url: RedisURL, timeoutSeconds: Int64 = 60) throws(ToolError) {
        self.url = url
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let endpoint = url.description
        let timeout = TimeAmount.seconds(timeoutSeconds)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPResponseDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisClientHandler(endpoint: endpoint, timeout: timeout))
                }
            }
        do {
            channel = try bootstrap.connect(host: url.host, port: url.port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw ToolError("cannot connect to \(url.host):\(url.port): \(Self.describe(error))")
        }
        self.group = group
        do throws(ToolError) {
            var login = RedisPipeline()
            if let password = url.password {
                if let user = url.username { login.append("AUTH", user, password) } else { login.append("AUTH", password) }
            }
            if url.database != 0 { login.append("SELECT", String(url.database)) }
            if !login.isEmpty {
                let replies = try send(login).wait()
                var i = 0
                if url.password != nil {
                    if case .error(let text) = replies[0] { throw ToolError("authentication to \(url.host):\(url.port) failed: \(text)") }
                    i = 1
                }
                if url.database != 0, case .error(let text) = replies[i] {
                    throw ToolError("SELECT \(url.database) failed on \(url.host):\(url.port): \(text)")
                }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Sends `pipeline` without waiting for its replies.
    public func send(_ pipeline: RedisPipeline) -> RedisReplies {
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        if pipeline.isEmpty {
            promise.succeed([])
        } else {
            channel.writeAndFlush(RedisClientHandler.Request(bytes: pipeline.bytes, replies: pipeline.count, promise: promise), promise: nil)
        }
        return RedisReplies(future: promise.futureResult, endpoint: url.description)
    }

    /// Sends one command and waits for its reply (an error reply is returned, not thrown).
    @discardableResult
    public func call(_ arguments: [[UInt8]]) throws(ToolError) -> RESPValue {
        var p = RedisPipeline()
        p.append(arguments)
        return try send(p).wait()[0]
    }

    /// Sends one command of text arguments and waits for its reply.
    @discardableResult
    public func call(_ arguments: String...) throws(ToolError) -> RESPValue {
        try call(arguments.map { Array($0.utf8) })
    }

    /// Like ``call(_:)-([[UInt8]])``, but an error reply is thrown as a `ToolError` naming the command.
    @discardableResult
    public func checkedCall(_ arguments: [[UInt8]]) throws(ToolError) -> RESPValue {
        let reply = try call(arguments)
        if case .error(let text) = reply {
            throw ToolError("\(String(decoding: arguments.first ?? [], as: UTF8.self)) on \(url.description) failed: \(text)")
        }
        return reply
    }

    /// Closes the connection and stops its thread. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        _ = try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// NIO's connection errors list every address tried; the last one's cause is what a person
    /// needs.
    static func describe(_ error: any Error) -> String {
        var cause = error
        if let e = error as? NIOConnectionError, let last = e.connectionErrors.last { cause = last.error }
        if let io = cause as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(cause)"
    }
}

/// Matches replies to the pipelines written, in order. Lives on the connection's event loop.
final class RedisClientHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    /// A pipeline on its way out and the promise for its replies.
    struct Request {
        var bytes: ByteBuffer
        var replies: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    private struct Waiting {
        var expected: Int
        var promise: EventLoopPromise<[RESPValue]>
    }

    private let endpoint: String
    private let timeout: TimeAmount
    private var waiting = CircularBuffer<Waiting>()
    /// Replies to the oldest request so far. Kept out of `waiting`: appending through the
    /// buffer's subscript would copy the array on every reply.
    private var received: [RESPValue] = []
    private var timer: Scheduled<Void>? = nil
    /// Replies received so far; the timer compares it with its value when it was armed.
    private var progress = 0

    init(endpoint: String, timeout: TimeAmount) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        waiting.append(Waiting(expected: request.replies, promise: request.promise))
        if waiting.count == 1 {
            received.reserveCapacity(request.replies)
            if timer == nil { armTimer(context) }
        }
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            failAll(ToolError("\(endpoint) sent a reply nobody asked for: \(value)"), context)
            return
        }
        received.append(value)
        if received.count == waiting[waiting.startIndex].expected {
            let done = waiting.removeFirst()
            let replies = received
            received = []
            if let next = waiting.first { received.reserveCapacity(next.expected) }
            done.promise.succeed(replies)
        }
        progress &+= 1
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ToolError("the connection to \(endpoint) was closed by the server"), nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(ToolError("connection to \(endpoint): \(error)"), context)
    }

    /// Starts the reply timeout while replies are outstanding. It fails the requests only when
    /// a whole period passed without any reply (not when a long pipeline takes longer than
    /// one), and re-arms itself otherwise; replies only count, so they cost no timer work.
    private func armTimer(_ context: ChannelHandlerContext) {
        let seen = progress
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.timer = nil
            guard !self.waiting.isEmpty else { return }
            if self.progress == seen {
                self.failAll(ToolError("no reply from \(self.endpoint) within \(seconds) s"), context)
            } else {
                self.armTimer(context)
            }
        }
    }

    private func failAll(_ error: ToolError, _ context: ChannelHandlerContext?) {
        timer?.cancel()
        timer = nil
        received = []
        while let w = waiting.popFirst() { w.promise.fail(error) }
        context?.close(promise: nil)
    }
}
