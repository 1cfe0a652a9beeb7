import NIOCore
import RESP

extension CommandTable {
    static let clientSubcommands: [CommandSpec] = [
        CommandSpec("id", arity: 2, flags: [.noscript, .loading, .stale], group: "connection", since: "5.0.0",
                    summary: "Returns the unique client ID of the connection.", acl: ["slow", "connection"], parent: "client") { ctx in
            .reply(.integer(Int64(ctx.client.id)))
        },
        CommandSpec("setname", arity: 3, flags: [.noscript, .loading, .stale], group: "connection", since: "2.6.9",
                    summary: "Sets the connection name.", acl: ["slow", "connection"], parent: "client") { ctx throws(CommandError) in
            try setName(ctx.client, ctx.args[2])
            return .reply(.ok)
        },
        CommandSpec("getname", arity: 2, flags: [.noscript, .loading, .stale], group: "connection", since: "2.6.9",
                    summary: "Returns the name of the connection.", acl: ["slow", "connection"], parent: "client") { ctx in
            .reply(ctx.client.name.isEmpty ? .nullBulk : .bulk(ctx.client.name))
        },
        CommandSpec("setinfo", arity: 4, flags: [.noscript, .loading, .stale], group: "connection", since: "7.2.0",
                    summary: "Sets information specific to the client or connection.", acl: ["slow", "connection"], parent: "client") { ctx throws(CommandError) in
            let attr = ctx.args[2]
            let isName = attr.isKeyword("LIB-NAME")
            guard isName || attr.isKeyword("LIB-VER") else {
                throw CommandError("ERR Unrecognized option '\(attr.text)'")
            }
            for b in ctx.args[3].readableBytesView where b < 33 || b > 126 {
                throw CommandError("ERR \(isName ? "lib-name" : "lib-ver") cannot contain spaces, newlines or special characters.")
            }
            if isName { ctx.client.libName = ctx.args[3].text } else { ctx.client.libVersion = ctx.args[3].text }
            return .reply(.ok)
        },
        CommandSpec("info", arity: 2, flags: [.noscript, .loading, .stale], group: "connection", since: "6.2.0",
                    summary: "Returns information about the connection.", acl: ["slow", "connection"], parent: "client") { ctx in
            .reply(.verbatimString(format: "txt", text: ByteBuffer(string: clientLine(ctx.server, ctx.client) + "\n")))
        },
        CommandSpec("list", arity: -2, flags: [.admin, .noscript, .loading, .stale], group: "connection", since: "2.4.0",
                    summary: "Lists open connections.", complexity: "O(N)", acl: ["admin", "slow", "dangerous", "connection"],
                    parent: "client", handler: clientList),
        CommandSpec("kill", arity: -3, flags: [.admin, .noscript, .loading, .stale], group: "connection", since: "2.4.0",
                    summary: "Terminates open connections.", complexity: "O(N)", acl: ["admin", "slow", "dangerous", "connection"],
                    parent: "client", handler: clientKill),
        CommandSpec("unblock", arity: -3, flags: [.admin, .noscript, .loading, .stale], group: "connection", since: "5.0.0",
                    summary: "Unblocks a client blocked by a blocking command from a different connection.",
                    complexity: "O(log N)", acl: ["admin", "slow", "dangerous", "connection"], parent: "client") { ctx throws(CommandError) in
            guard let id = ctx.args[2].int64 else { throw .notInteger }
            var asError = false
            if ctx.args.count == 4 {
                if ctx.args[3].isKeyword("ERROR") { asError = true } else if !ctx.args[3].isKeyword("TIMEOUT") {
                    throw CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                }
            } else if ctx.args.count > 4 {
                throw .syntax
            }
            guard id > 0, let target = ctx.server.clients[UInt64(id)], let b = target.blocked else { return .reply(.integer(0)) }
            ctx.server.finishBlocked(target, with: asError ? .error("UNBLOCKED client unblocked via CLIENT UNBLOCK") : b.request.timeoutReply)
            return .reply(.integer(1))
        },
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "connection", since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", acl: ["slow", "connection"], parent: "client") { _ in
            .reply(.array(([
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME", "    Return the name of the current connection.",
                "ID", "    Return the ID of the current connection.",
                "INFO", "    Return information about the current client connection.",
                "KILL <ip:port>", "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME.",
                "LIST [options ...]", "    Return information about client connections. Options: TYPE, ID.",
                "SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                "SETNAME <name>", "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
                "HELP", "    Print this help.",
            ] as [String]).map { RESPValue.simpleString($0) }))
        },
    ]

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.2's field order.
    static func clientLine(_ server: ServerState, _ c: ClientSession) -> String {
        let now = NIODeadline.now()
        var flags = ""
        if c.blocked != nil { flags += "b" }
        if c.watchDirty { flags += "d" }
        if c.transaction != nil { flags += "x" }
        if flags.isEmpty { flags = "N" }
        let age = (now - c.createdAt).nanoseconds / 1_000_000_000
        let idle = (now - c.lastInteraction).nanoseconds / 1_000_000_000
        let name = String(decoding: c.name, as: UTF8.self)
        let multi = c.transaction.map { String($0.count) } ?? "-1"
        // The memory fields count the bytes Spool holds for the client: received and not yet
        // run (qbuf) and the receive buffer's spare room (qbuf-free); the arguments of the
        // command being run or waited on (argv-mem) and of queued MULTI commands (multi-mem);
        // replies of this round not yet handed to the connection (obl), and the writes and
        // bytes handed to it that the socket has not taken yet (oll, omem). There is no fixed
        // reply buffer (rbs, rbp).
        let b = c.connection.buffers
        let qbuf = server.queryBytes(c)
        let qbufFree = b.receiveBufferFree.load(ordering: .relaxed)
        var multiMem = 0
        for args in c.transaction ?? [] { for a in args { multiMem += a.readableBytes } }
        let obl = c.outbox.readableBytes
        let oll = b.unwrittenWrites.load(ordering: .relaxed)
        let omem = b.unwrittenBytes.load(ordering: .relaxed)
        let total = qbuf + qbufFree + c.argumentBytes + multiMem + obl + omem
        let events = obl + omem > 0 ? "rw" : "r"
        return "id=\(c.id) addr=\(c.connection.peerAddress) laddr=\(c.connection.localAddress) fd=-1 name=\(name) age=\(age) idle=\(idle) flags=\(flags) db=\(c.db) sub=0 psub=0 ssub=0 multi=\(multi) qbuf=\(qbuf) qbuf-free=\(qbufFree) argv-mem=\(c.argumentBytes) multi-mem=\(multiMem) rbs=0 rbp=0 obl=\(obl) oll=\(oll) omem=\(omem) tot-mem=\(total) events=\(events) cmd=\(c.lastCommand) user=default redir=-1 resp=\(c.protocolVersion.rawValue) lib-name=\(c.libName) lib-ver=\(c.libVersion)"
    }

    @Sendable static func clientList(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        var ids: Set<UInt64>? = nil
        var i = 2
        while i < ctx.args.count {
            if ctx.args[i].isKeyword("TYPE"), i + 1 < ctx.args.count {
                let t = ctx.args[i + 1]
                if t.isKeyword("NORMAL") {
                } else if t.isKeyword("MASTER") || t.isKeyword("REPLICA") || t.isKeyword("SLAVE") || t.isKeyword("PUBSUB") {
                    ids = []
                } else {
                    throw CommandError("ERR Unknown client type '\(t.text)'")
                }
                i += 2
            } else if ctx.args[i].isKeyword("ID"), i + 1 < ctx.args.count {
                var set = ids ?? []
                i += 1
                while i < ctx.args.count {
                    guard let n = ctx.args[i].int64, n > 0 else { throw CommandError("ERR Invalid client ID") }
                    set.insert(UInt64(n))
                    i += 1
                }
                ids = set
            } else {
                throw .syntax
            }
        }
        var text = ""
        for c in ctx.server.clients.values.sorted(by: { $0.id < $1.id }) where !c.closing && (ids?.contains(c.id) ?? true) {
            text += clientLine(ctx.server, c) + "\n"
        }
        return .reply(.verbatimString(format: "txt", text: ByteBuffer(string: text)))
    }

    @Sendable static func clientKill(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let server = ctx.server
        if args.count == 3 {
            // Old form: CLIENT KILL addr:port.
            let addr = args[2].text
            guard let target = server.clients.values.first(where: { $0.connection.peerAddress == addr && !$0.closing }) else {
                throw CommandError("ERR No such client")
            }
            kill(server, target, by: ctx.client)
            return .reply(.ok)
        }
        var id: UInt64?
        var addr: String?
        var laddr: String?
        var skipMe = true
        var maxAge: Int64?
        var i = 2
        while i < args.count {
            guard i + 1 < args.count else { throw .syntax }
            let opt = args[i], val = args[i + 1]
            if opt.isKeyword("ID") {
                guard let n = val.int64, n > 0 else { throw CommandError("ERR client-id should be greater than 0") }
                id = UInt64(n)
            } else if opt.isKeyword("ADDR") {
                addr = val.text
            } else if opt.isKeyword("LADDR") {
                laddr = val.text
            } else if opt.isKeyword("SKIPME") {
                if val.isKeyword("YES") { skipMe = true } else if val.isKeyword("NO") { skipMe = false } else { throw .syntax }
            } else if opt.isKeyword("USER") {
                if val.bytes != Array("default".utf8) { throw CommandError("ERR No such user '\(val.text)'") }
            } else if opt.isKeyword("TYPE") {
                guard val.isKeyword("NORMAL") || val.isKeyword("MASTER") || val.isKeyword("REPLICA") || val.isKeyword("SLAVE") || val.isKeyword("PUBSUB") else {
                    throw CommandError("ERR Unknown client type '\(val.text)'")
                }
                if !val.isKeyword("NORMAL") { return .reply(.integer(0)) }
            } else if opt.isKeyword("MAXAGE") {
                guard let n = val.int64 else { throw .notInteger }
                maxAge = n
            } else {
                throw .syntax
            }
            i += 2
        }
        var killed = 0
        let now = NIODeadline.now()
        for c in server.clients.values.sorted(by: { $0.id < $1.id }) where !c.closing {
            if let id, c.id != id { continue }
            if let addr, c.connection.peerAddress != addr { continue }
            if let laddr, c.connection.localAddress != laddr { continue }
            if let maxAge, (now - c.createdAt).nanoseconds / 1_000_000_000 < maxAge { continue }
            if skipMe && c === ctx.client { continue }
            kill(server, c, by: ctx.client)
            killed += 1
        }
        return .reply(.integer(Int64(killed)))
    }

    /// Closes `target`; when it is the caller, after the reply.
    private static func kill(_ server: ServerState, _ target: ClientSession, by caller: ClientSession) {
        if target === caller {
            target.closing = true
            return
        }
        server.closeClient(target)
    }
}

