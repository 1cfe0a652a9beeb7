import NIOCore
import RESP
import Synchronization

/// How the executor talks back to a connection. Calls arrive from the executor thread and hop to
/// the channel's event loop.
public struct ClientConnection: Sendable {
    /// Writes `bytes` (all replies of a batch), flushes, and closes the connection when `close` is set.
    public var deliver: @Sendable (_ bytes: ByteBuffer, _ close: Bool) -> Void
    /// The peer address (`ip:port`), for CLIENT LIST.
    public var peerAddress: String
    /// The local address (`ip:port`).
    public var localAddress: String
    /// Shared with the request decoder: whether the connection still has to authenticate, which
    /// tightens the decoder's limits as Redis does before AUTH.
    public var authState: ConnectionAuthState
    /// What the connection holds in its input and output buffers.
    public var buffers: ConnectionBuffers
    /// Asks the event loop to read again after the executor took in-flight requests (called
    /// when ``ConnectionBuffers/executorTook(_:)`` says reading was paused).
    public var resumeReading: @Sendable () -> Void
    /// The event loop `deliver` is cheapest on: the executor hands each loop all of a round's
    /// replies in one task rather than one hop per reply (nil: call `deliver` anywhere).
    public var eventLoop: (any EventLoop)?

    /// Creates a connection handle.
    public init(
        peerAddress: String = "127.0.0.1:0", localAddress: String = "127.0.0.1:0",
        authState: ConnectionAuthState = ConnectionAuthState(),
        buffers: ConnectionBuffers = ConnectionBuffers(),
        resumeReading: @escaping @Sendable () -> Void = {},
        eventLoop: (any EventLoop)? = nil,
        deliver: @escaping @Sendable (ByteBuffer, Bool) -> Void
    ) {
        self.deliver = deliver
        self.eventLoop = eventLoop
        self.peerAddress = peerAddress
        self.localAddress = localAddress
        self.authState = authState
        self.buffers = buffers
        self.resumeReading = resumeReading
    }
}

/// Byte counts of one connection's buffers, shared by its event loop and the executor: what
/// `client-query-buffer-limit` and `client-output-buffer-limit` are checked against and what
/// CLIENT LIST and INFO report.
///
/// The query side counts every byte received and not yet run: bytes not yet parsed into a whole
/// request (the event loop's receive buffer), requests handed to the executor that it has not
/// taken yet (in flight), and requests the executor holds without running them (a blocked
/// client's pipeline). Redis runs a client's commands as soon as they are read, so a pipeline
/// only grows its query buffer while the client is blocked; to behave the same, the event loop
/// stops reading while more than ``readPauseThreshold`` bytes are in flight (the executor is
/// behind) instead of counting them against the limit, and reads again once the executor takes
/// them. The output side counts reply bytes handed to the channel and not yet written to the
/// socket, measured through the writes' promises.
public final class ConnectionBuffers: Sendable {
    /// In-flight bytes above which the event loop stops reading from the socket.
    public let readPauseThreshold: Int
    let inFlight = Atomic<Int>(0)
    /// Event loop: a watcher waits for the channel to write what it holds.
    let drainWatched = Atomic<Bool>(false)
    let unparsed = Atomic<Int>(0)
    let receiveBufferFree = Atomic<Int>(0)
    let held = Atomic<Int>(0)
    let unwrittenBytes = Atomic<Int>(0)
    let unwrittenWrites = Atomic<Int>(0)
    /// The largest query and output sizes since the executor last sampled them.
    let queryPeak = Atomic<Int>(0)
    let outputPeak = Atomic<Int>(0)
    private let readPaused = Atomic<Bool>(false)

    /// Creates the counters of a new connection.
    public init(readPauseThreshold: Int = 256 * 1024) {
        self.readPauseThreshold = readPauseThreshold
    }

    /// Bytes received and not yet run, as the event loop sees them.
    var queryBytes: Int {
        unparsed.load(ordering: .relaxed) + inFlight.load(ordering: .relaxed) + held.load(ordering: .relaxed)
    }

    /// Event loop: requests of `bytes` bytes were handed to the executor.
    func submitted(_ bytes: Int) {
        inFlight.wrappingAdd(bytes, ordering: .sequentiallyConsistent)
    }

    /// Event loop, before reading: false when reading must wait for the executor. The executor
    /// then resumes it (``executorTook(_:)``); the second check closes the race with it.
    func mayRead() -> Bool {
        guard inFlight.load(ordering: .sequentiallyConsistent) > readPauseThreshold else { return true }
        readPaused.store(true, ordering: .sequentiallyConsistent)
        if inFlight.load(ordering: .sequentiallyConsistent) > readPauseThreshold { return false }
        // The executor caught up meanwhile: read now unless it already asked for a read.
        return readPaused.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// Executor: it took requests of `bytes` bytes. True when the event loop paused reading and
    /// must be told to read again.
    func executorTook(_ bytes: Int) -> Bool {
        let left = inFlight.wrappingSubtract(bytes, ordering: .sequentiallyConsistent).newValue
        return left <= readPauseThreshold && readPaused.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// Event loop: a write of `bytes` is being handed to the channel.
    func writeQueued(_ bytes: Int) {
        let total = unwrittenBytes.wrappingAdd(bytes, ordering: .relaxed).newValue
        unwrittenWrites.wrappingAdd(1, ordering: .relaxed)
        outputPeak.max(total, ordering: .relaxed)
    }

    /// Event loop: after a write, what the channel still holds unwritten: its buffered bytes,
    /// and at most the writes queued so far (none when nothing is left).
    func channelHolds(bytes: Int) {
        unwrittenBytes.store(bytes, ordering: .relaxed)
        let writes = unwrittenWrites.load(ordering: .relaxed)
        unwrittenWrites.store(bytes == 0 ? 0 : max(1, writes), ordering: .relaxed)
    }
}

/// A flag the executor sets and the event loop's decoder reads.
public final class ConnectionAuthState: Sendable {
    private let required: Atomic<Bool>
    /// Creates the flag. A connection to a server with a password starts as required, before
    /// the executor has even seen it: its first bytes are decoded under the unauthenticated limits.
    public init(required: Bool = false) { self.required = Atomic(required) }
    /// True while the connection must still authenticate.
    public var authenticationRequired: Bool {
        get { required.load(ordering: .relaxed) }
        set { required.store(newValue, ordering: .relaxed) }
    }
}

/// One input of a connection, in arrival order.
public enum ClientInput: Sendable {
    /// A decoded command and the bytes it took on the wire.
    case request(RESPRequest, wireBytes: Int = 0)
    /// The decoder failed: reply with the error and close.
    case protocolError(RESPProtocolError)
}

/// A database and key: what blocked clients and WATCH wait on.
struct DatabaseKey: Hashable {
    var db: Int
    var key: [UInt8]

    /// The key's bytes as one block (`[UInt8]` alone feeds the hasher a byte at a time).
    func hash(into hasher: inout Hasher) {
        hasher.combine(db)
        key.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A blocking command waiting for data.
struct BlockRequest {
    /// The keys whose writes re-run the command.
    var keys: [[UInt8]]
    /// When to give up (nil: forever).
    var deadline: NIODeadline?
    /// The command to re-run, with `$` replaced by concrete IDs.
    var arguments: [ByteBuffer]
    /// The reply on timeout.
    var timeoutReply: RESPValue
}

/// A connected client's state. Lives on the executor thread only.
final class ClientSession {
    let id: UInt64
    let connection: ClientConnection
    let createdAt: NIODeadline
    var lastInteraction: NIODeadline
    var db = 0
    var protocolVersion: RESPProtocolVersion = .v2
    var authenticated: Bool
    var name: [UInt8] = []
    var libName = ""
    var libVersion = ""
    var lastCommand = "NULL"

    /// Queued commands while in MULTI (nil outside MULTI).
    var transaction: [[ByteBuffer]]?
    /// A command failed to queue: EXEC aborts.
    var transactionFailed = false
    /// WATCHed keys.
    var watched: [DatabaseKey] = []
    /// A watched key changed: EXEC fails.
    var watchDirty = false

    /// The blocking command the client waits on.
    var blocked: (request: BlockRequest, spec: CommandSpec, since: NIODeadline)?
    /// Inputs received while blocked, run once unblocked.
    var pending: [ClientInput] = []
    /// Wire bytes of `pending` plus the input being run (CLIENT LIST `qbuf`).
    var pendingBytes = 0
    /// Argument bytes of the command being run or waited on (CLIENT LIST `argv-mem`).
    var argumentBytes = 0
    /// When the output buffer first reached the soft limit (seconds of uptime), while it stays there.
    var softLimitReachedAt: Int64?
    /// Close without sending what is queued (output buffer limit reached).
    var dropOutput = false
    /// The server's write counter after this client's last write (Redis's `woff`): WAITAOF
    /// waits until the server knows every write up to it durable.
    var woff: UInt64 = 0
    /// Replies not yet handed to the connection.
    var outbox = ByteBuffer()
    /// What the outbox held when last handed over: the next one reserves that much at its
    /// first write instead of growing (and copying) a few times on the way.
    var lastOutboxBytes = 0
    /// Close after the outbox is delivered.
    var closing = false

    init(id: UInt64, connection: ClientConnection, authenticated: Bool) {
        self.id = id
        self.connection = connection
        self.authenticated = authenticated
        self.createdAt = .now()
        self.lastInteraction = createdAt
    }

    func write(_ value: RESPValue) {
        if outbox.capacity == 0 { outbox.reserveCapacity(min(max(lastOutboxBytes, 64), 64 * 1024)) }
        RESPEncoder.encode(value, protocol: protocolVersion, into: &outbox)
    }
}
