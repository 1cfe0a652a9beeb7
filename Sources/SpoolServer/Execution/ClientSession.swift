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

    /// Creates a connection handle.
    public init(
        peerAddress: String = "127.0.0.1:0", localAddress: String = "127.0.0.1:0",
        authState: ConnectionAuthState = ConnectionAuthState(),
        deliver: @escaping @Sendable (ByteBuffer, Bool) -> Void
    ) {
        self.deliver = deliver
        self.peerAddress = peerAddress
        self.localAddress = localAddress
        self.authState = authState
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
    /// A decoded command.
    case request(RESPRequest)
    /// The decoder failed: reply with the error and close.
    case protocolError(RESPProtocolError)
}

/// A database and key: what blocked clients and WATCH wait on.
struct DatabaseKey: Hashable {
    var db: Int
    var key: [UInt8]
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
    /// Replies not yet handed to the connection.
    var outbox = ByteBuffer()
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
        RESPEncoder.encode(value, protocol: protocolVersion, into: &outbox)
    }
}
