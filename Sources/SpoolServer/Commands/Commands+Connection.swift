import NIOCore
import RESP
import Spool

/// The version Spool reports as `redis_version`: clients pick features by it, and Spool follows
/// Redis 7.4's stream semantics (XREAD `+`, re-executed blocked XREADGROUP).
let redisCompatibleVersion = "7.4.0"
/// Spool's own version.
public let spoolVersion = "0.1.0"

extension CommandTable {
    static let connectionCommands: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.fast], group: "connection", since: "1.0.0",
                    summary: "Returns the server's liveliness response.", acl: ["fast", "connection"]) { ctx throws(CommandError) in
            if ctx.args.count > 2 { throw .arity("ping") }
            return .reply(ctx.args.count == 2 ? .bulkString(ctx.args[1]) : .simpleString("PONG"))
        },
        CommandSpec("echo", arity: 2, flags: [.fast], group: "connection", since: "1.0.0",
                    summary: "Returns the given string.", acl: ["fast", "connection"]) { ctx in
            .reply(.bulkString(ctx.args[1]))
        },
        CommandSpec("hello", arity: -1, flags: [.noAuth, .fast, .noscript, .loading, .stale], group: "connection", since: "6.0.0",
                    summary: "Handshakes with the Redis server.", acl: ["fast", "connection"], handler: hello),
        CommandSpec("auth", arity: -2, flags: [.noAuth, .fast, .noscript, .loading, .stale], group: "connection", since: "1.0.0",
                    summary: "Authenticates the connection.", acl: ["fast", "connection"], handler: auth),
        CommandSpec("select", arity: 2, flags: [.fast, .loading, .stale], group: "connection", since: "1.0.0",
                    summary: "Changes the selected database.", acl: ["fast", "connection"]) { ctx throws(CommandError) in
            guard let n = ctx.args[1].int64, n >= Int64(Int32.min), n <= Int64(Int32.max) else { throw .notInteger }
            guard n >= 0, n < Int64(ctx.server.store.databaseCount) else { throw CommandError("ERR DB index is out of range") }
            ctx.client.db = Int(n)
            return .reply(.ok)
        },
        CommandSpec("quit", arity: -1, flags: [.noAuth, .fast, .noscript, .loading, .stale, .allowBusy, .transactionControl],
                    group: "connection", since: "1.0.0", summary: "Closes the connection.", acl: ["fast", "connection"]) { _ in
            .replyAndClose(.ok)
        },
        CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy, .transactionControl],
                    group: "connection", since: "6.2.0", summary: "Resets the connection.", acl: ["fast", "connection"]) { ctx in
            let c = ctx.client
            c.transaction = nil
            c.transactionFailed = false
            ctx.server.unwatchAll(c)
            c.db = 0
            c.protocolVersion = .v2
            c.name = []
            if !ctx.server.settings.requirePass.isEmpty {
                c.authenticated = false
                c.connection.authState.authenticationRequired = true
            }
            return .reply(.simpleString("RESET"))
        },
        CommandSpec("client", arity: -2, group: "connection", since: "2.4.0", summary: "A container for client connection commands.",
                    acl: ["slow"], subcommands: clientSubcommands),
    ]

    private static func checkPassword(_ server: ServerState, user: ByteBuffer?, password: ByteBuffer) -> Bool {
        if let user, user.bytes != Array("default".utf8) {
            // Only the default user exists; still compare the password so timing says nothing.
            _ = constantTimeEquals(password.bytes, Array(server.settings.requirePass.utf8))
            return false
        }
        let required = server.settings.requirePass
        if required.isEmpty { return true }  // the default user is `nopass`
        return constantTimeEquals(password.bytes, Array(required.utf8))
    }

    private static func markAuthenticated(_ c: ClientSession) {
        c.authenticated = true
        c.connection.authState.authenticationRequired = false
    }

    @Sendable static func auth(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        if args.count > 3 { throw .syntax }
        if args.count == 2 && ctx.server.settings.requirePass.isEmpty {
            throw CommandError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        let user = args.count == 3 ? args[1] : nil
        guard checkPassword(ctx.server, user: user, password: args[args.count - 1]) else {
            throw CommandError("WRONGPASS invalid username-password pair or user is disabled.")
        }
        markAuthenticated(ctx.client)
        return .reply(.ok)
    }

    @Sendable static func hello(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let c = ctx.client
        var version: Int64? = nil
        var i = 1
        if args.count >= 2 {
            guard let v = args[1].int64 else { throw CommandError("ERR Protocol version is not an integer or out of range") }
            guard v == 2 || v == 3 else { throw CommandError("NOPROTO unsupported protocol version") }
            version = v
            i = 2
        }
        var credentials: (ByteBuffer, ByteBuffer)?
        var newName: ByteBuffer?
        while i < args.count {
            let more = args.count - 1 - i
            if args[i].isKeyword("AUTH") && more >= 2 {
                credentials = (args[i + 1], args[i + 2])
                i += 3
            } else if args[i].isKeyword("SETNAME") && more >= 1 {
                newName = args[i + 1]
                i += 2
            } else {
                throw CommandError("ERR Syntax error in HELLO option '\(args[i].text)'")
            }
        }
        if let (user, password) = credentials {
            guard checkPassword(ctx.server, user: user, password: password) else {
                throw CommandError("WRONGPASS invalid username-password pair or user is disabled.")
            }
            markAuthenticated(c)
        }
        if !c.authenticated {
            throw CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        if let newName { try setName(c, newName) }
        if let version { c.protocolVersion = version == 3 ? .v3 : .v2 }
        return .reply(.map([
            (.bulk("server"), .bulk("redis")),
            (.bulk("version"), .bulk(redisCompatibleVersion)),
            (.bulk("proto"), .integer(Int64(c.protocolVersion.rawValue))),
            (.bulk("id"), .integer(Int64(c.id))),
            (.bulk("mode"), .bulk("standalone")),
            (.bulk("role"), .bulk("master")),
            (.bulk("modules"), .array([])),
        ]))
    }

    static func setName(_ c: ClientSession, _ name: ByteBuffer) throws(CommandError) {
        for b in name.readableBytesView where b < 33 || b > 126 {
            throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
        c.name = name.bytes
    }
}

/// Compares two byte strings in time that depends only on their lengths, never on where they differ.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
    let n = max(a.count, b.count)
    for i in 0..<n {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        diff |= x ^ y
    }
    return diff == 0
}
