import Logging
import NIOCore
import NIOPosix
import RESP
import Spool
import Synchronization

/// `spool serve`: a RESP2/RESP3 server over a ``SpoolStore``.
///
/// Event loops only decode requests and write replies; every command runs on the
/// ``CommandExecutor``'s single thread.
public final class SpoolServer: Sendable {
    /// The settings the server started with.
    public let configuration: ServerConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let executor: CommandExecutor

    private struct State {
        var listeners: [any Channel] = []
        var connections: [UInt64: any Channel] = [:]
        var maxClients: Int
        var rejected = 0
        var shuttingDown = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var durabilityFailure: SpoolError? = nil
    }
    private let state: Mutex<State>
    /// `client-query-buffer-limit`, read by the event loops on every socket read.
    private let queryBufferLimit: Atomic<Int>
    /// One batcher per event loop, made when the loop accepts its first connection.
    private let batchers = Mutex<[ObjectIdentifier: LoopBatcher]>([:])

    /// Validates the settings (protected mode) and opens the store. Nothing listens yet.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "spool.server")) throws {
        if configuration.protectedMode && configuration.requirePass.isEmpty {
            for address in configuration.bind where !Self.isLoopback(address) {
                throw ConfigurationError(
                    "refusing to listen on \(address) without a password (protected mode): set --requirepass, bind to 127.0.0.1, or disable protected-mode explicitly")
            }
        }
        self.configuration = configuration
        self.logger = logger
        state = Mutex(State(maxClients: configuration.maxClients))
        queryBufferLimit = Atomic(configuration.clientQueryBufferLimit)
        group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.ioThreads)
        do {
            executor = try CommandExecutor(configuration: configuration, timerLoop: group.next(), logger: logger)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    static func isLoopback(_ address: String) -> Bool {
        let a = address.hasPrefix("-") ? String(address.dropFirst()) : address
        return a.hasPrefix("127.") || a == "::1" || a == "localhost"
    }

    /// The journal write or sync failure that made the server stop (it then shuts down by
    /// itself, acknowledging nothing of the failed round), or nil.
    public var durabilityFailure: SpoolError? { state.withLock { $0.durabilityFailure } }

    /// Binds every address; returns the bound port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        var port = configuration.port
        for address in configuration.bind {
            let host = address.hasPrefix("-") ? String(address.dropFirst()) : address
            let channel = try await makeBootstrap().bind(host: host == "*" ? "0.0.0.0" : host, port: port).get()
            if port == 0 { port = channel.localAddress?.port ?? 0 }
            state.withLock { $0.listeners.append(channel) }
        }
        let reject: @Sendable () -> Int = { [self] in self.state.withLock { $0.rejected } }
        await executor.configure(port: port, rejectedConnections: reject, onShutdown: { [self] in
            Task { await self.shutdown() }
        }, onSettingsChange: { [self] settings in
            self.state.withLock { $0.maxClients = settings.maxClients }
            self.queryBufferLimit.store(settings.clientQueryBufferLimit, ordering: .relaxed)
        }, onDurabilityFailure: { [self] error in
            self.state.withLock { $0.durabilityFailure = error }
            Task { await self.shutdown() }
        })
        return port
    }

    private func makeBootstrap() -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 511)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.accept(channel) }
            }
    }

    /// Sets up a new connection, or refuses it with Redis's maxclients error.
    private func accept(_ channel: any Channel) throws {
        let id = executor.allocateClientID()
        let admitted: Bool = state.withLock { s in
            if s.shuttingDown { return false }
            if s.connections.count >= s.maxClients {
                s.rejected += 1
                return false
            }
            s.connections[id] = channel
            return true
        }
        guard admitted else {
            var b = channel.allocator.buffer(capacity: 40)
            b.writeString("-ERR max number of clients reached\r\n")
            channel.writeAndFlush(b).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let auth = ConnectionAuthState(required: !configuration.requirePass.isEmpty)
        let loop = channel.eventLoop
        let batcher = batchers.withLock { b in
            if let existing = b[ObjectIdentifier(loop)] { return existing }
            let made = LoopBatcher(loop: loop, executor: executor)
            b[ObjectIdentifier(loop)] = made
            return made
        }
        try channel.pipeline.syncOperations.addHandler(
            ClientChannelHandler(
                id: id, batcher: batcher, authState: auth,
                queryBufferLimit: { [self] in self.queryBufferLimit.load(ordering: .relaxed) }, logger: logger
            ) { [self] id in
                self.state.withLock { _ = $0.connections.removeValue(forKey: id) }
            })
    }

    /// Waits until the server has shut down (SHUTDOWN, a signal, or ``shutdown()``).
    public func waitUntilShutdown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.finished { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    /// Stops accepting, lets pending replies go out, syncs and closes the store, closes every
    /// connection. Safe to call more than once.
    public func shutdown() async {
        let first: ([any Channel])? = state.withLock { s in
            if s.shuttingDown { return nil }
            s.shuttingDown = true
            let l = s.listeners
            s.listeners = []
            return l
        }
        guard let listeners = first else {
            await waitUntilShutdown()
            return
        }
        for l in listeners { try? await l.close() }
        await executor.shutdown()
        let open = state.withLock { Array($0.connections.values) }
        for c in open { try? await c.close() }
        try? await group.shutdownGracefully()
        logger.notice("Spool is now ready to exit, bye bye...")
        let waiters = state.withLock { s in
            s.finished = true
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in waiters { w.resume() }
    }
}
