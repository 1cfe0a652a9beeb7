import NIOCore
import RESP

/// One connection on its event loop: forwards decoded requests to the executor in batches (one
/// batch per socket read, so a pipeline runs back to back and its replies go out in one write).
/// It never touches the store.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = RESPRequest

    private let id: UInt64
    private let executor: CommandExecutor
    private let authState: ConnectionAuthState
    private let onClose: @Sendable (UInt64) -> Void
    private var batch: [ClientInput] = []
    private var failed = false

    init(id: UInt64, executor: CommandExecutor, authState: ConnectionAuthState, onClose: @escaping @Sendable (UInt64) -> Void) {
        self.id = id
        self.executor = executor
        self.authState = authState
        self.onClose = onClose
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let connection = ClientConnection(
            peerAddress: Self.describe(channel.remoteAddress),
            localAddress: Self.describe(channel.localAddress),
            authState: authState
        ) { bytes, close in
            if bytes.readableBytes > 0 {
                let written = channel.writeAndFlush(bytes)
                if close { written.whenComplete { _ in channel.close(promise: nil) } }
            } else if close {
                channel.close(promise: nil)
            }
        }
        executor.connect(id: id, connection: connection)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        batch.append(.request(unwrapInboundIn(data)))
        if batch.count >= 1024 { submit() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submit()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let protocolError = error as? RESPProtocolError, !failed {
            // Requests decoded before the bad bytes still run; then the error reply, then close.
            failed = true
            batch.append(.protocolError(protocolError))
            submit()
        } else if !(error is RESPProtocolError) {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        submit()
        executor.disconnect(id: id)
        onClose(id)
        context.fireChannelInactive()
    }

    private func submit() {
        guard !batch.isEmpty else { return }
        executor.receive(id: id, batch)
        batch = []
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?:0" }
        let ip = address.ipAddress ?? "?"
        let port = address.port ?? 0
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}
