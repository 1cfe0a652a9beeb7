import Logging
import NIOCore
import RESP

/// One connection on its event loop: parses requests out of the received bytes and forwards them
/// to the executor in batches (one batch per socket read, so a pipeline runs back to back and its
/// replies go out in one write). It never touches the store.
///
/// It keeps the receive buffer itself (rather than a `ByteToMessageHandler`) because
/// `client-query-buffer-limit` counts the bytes in it, and it withholds reads while the executor
/// is behind (see ``ConnectionBuffers``).
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let id: UInt64
    /// Posts to the executor at the end of each turn of this connection's loop.
    private let batcher: LoopBatcher
    private let authState: ConnectionAuthState
    private let buffers: ConnectionBuffers
    private let queryBufferLimit: @Sendable () -> Int
    private let logger: Logger
    private let onClose: @Sendable (UInt64) -> Void
    private var received = ByteBuffer()
    private var parser = RESPRequestParser()
    private var batch: [ClientInput] = []
    private var batchBytes = 0
    private var failed = false

    init(
        id: UInt64, batcher: LoopBatcher, authState: ConnectionAuthState,
        queryBufferLimit: @escaping @Sendable () -> Int, logger: Logger, onClose: @escaping @Sendable (UInt64) -> Void
    ) {
        self.id = id
        self.batcher = batcher
        self.authState = authState
        self.queryBufferLimit = queryBufferLimit
        // Pause well below the limit, so that a pipeline of commands that can run is never
        // taken for a client holding too much (the limit is at least 1 MB through CONFIG SET).
        buffers = ConnectionBuffers(readPauseThreshold: min(256 * 1024, queryBufferLimit() / 4))
        self.logger = logger
        self.onClose = onClose
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let buffers = buffers
        let connection = ClientConnection(
            peerAddress: Self.describe(channel.remoteAddress),
            localAddress: Self.describe(channel.localAddress),
            authState: authState,
            buffers: buffers,
            resumeReading: { channel.read() },
            eventLoop: channel.eventLoop
        ) { bytes, close in
            let count = bytes.readableBytes
            if count > 0 {
                buffers.writeQueued(count)
                if close {
                    channel.writeAndFlush(bytes).whenComplete { _ in channel.close(promise: nil) }
                } else {
                    // No promise per reply: most writes reach the socket at once. Only when the
                    // channel still holds bytes afterwards is a watcher queued behind them
                    // (writes complete in order), to count them down once written.
                    channel.writeAndFlush(bytes, promise: nil)
                }
                Self.countUnwritten(channel, buffers, watch: !close)
            } else if close {
                channel.close(promise: nil)
            }
        }
        batcher.post(.connect(id, connection))
        context.fireChannelActive()
    }

    /// Records what `channel` still holds unwritten (client-output-buffer-limit, CLIENT LIST
    /// omem); with `watch`, looks again once it has written it.
    static func countUnwritten(_ channel: any Channel, _ buffers: ConnectionBuffers, watch: Bool) {
        let held = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        buffers.channelHolds(bytes: held)
        guard held > 0, watch, !buffers.drainWatched.load(ordering: .relaxed) else { return }
        buffers.drainWatched.store(true, ordering: .relaxed)
        channel.writeAndFlush(ByteBuffer()).whenComplete { _ in
            buffers.drainWatched.store(false, ordering: .relaxed)
            countUnwritten(channel, buffers, watch: channel.isActive)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var incoming = unwrapInboundIn(data)
        if received.readableBytes == 0 {
            received = incoming
        } else {
            received.writeBuffer(&incoming)
        }
        parseRequests()
        if received.readableBytes == 0 {
            received = ByteBuffer()  // parsed requests keep their slices; let the storage go with them
        } else if received.readerIndex >= 64 * 1024 {
            received.discardReadBytes()
        }
        buffers.unparsed.store(received.readableBytes, ordering: .relaxed)
        buffers.receiveBufferFree.store(received.writableBytes, ordering: .relaxed)
        let query = buffers.queryBytes + batchBytes
        buffers.queryPeak.max(query, ordering: .relaxed)
        if !failed, query > queryBufferLimit() {
            // Redis's log line, with what the event loop knows of the client.
            let channel = context.channel
            logger.warning(
                "Closing client that reached max query buffer length: id=\(id) addr=\(Self.describe(channel.remoteAddress)) laddr=\(Self.describe(channel.localAddress)) qbuf=\(query) (qbuf initial bytes: \(Self.repr(received.readableBytesView.prefix(64))))")
            failed = true
            batch = []
            batchBytes = 0
            received = ByteBuffer()
            context.close(promise: nil)
        }
    }

    /// Parses every whole request in `received` into the batch.
    private func parseRequests() {
        while !failed {
            if !parser.isInsideRequest { parser.authenticationRequired = authState.authenticationRequired }
            let start = received.readerIndex
            do {
                guard let request = try parser.next(&received) else { return }
                let size = received.readerIndex - start
                batch.append(.request(request, wireBytes: size))
                batchBytes += size
                if batch.count >= 1024 { submit() }
            } catch {
                // Requests parsed before the bad bytes still run; then the error reply, then close.
                failed = true
                batch.append(.protocolError(error))
                submit()
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submit()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if buffers.mayRead() { context.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        submit()
        batcher.post(.disconnect(id))
        onClose(id)
        context.fireChannelInactive()
    }

    private func submit() {
        guard !batch.isEmpty else { return }
        buffers.submitted(batchBytes)
        batcher.post(.input(id, batch, bytes: batchBytes))
        batch = []
        batchBytes = 0
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?:0" }
        let ip = address.ipAddress ?? "?"
        let port = address.port ?? 0
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    /// Bytes quoted as Redis's `sdscatrepr` prints them in its logs.
    static func repr(_ bytes: some Sequence<UInt8>) -> String {
        var s = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case UInt8(ascii: "\n"): s += "\\n"
            case UInt8(ascii: "\r"): s += "\\r"
            case UInt8(ascii: "\t"): s += "\\t"
            case 7: s += "\\a"
            case 8: s += "\\b"
            case 32...126: s.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789abcdef".utf8)
                s += "\\x" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return s + "\""
    }
}
