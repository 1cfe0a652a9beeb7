import NIOCore
import RESP

extension CommandTable {
    static let transactionCommands: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy, .transactionControl],
                    group: "transactions", since: "1.2.0", summary: "Starts a transaction.", acl: ["fast", "transaction"]) { ctx throws(CommandError) in
            if ctx.client.transaction != nil { throw CommandError("ERR MULTI calls can not be nested") }
            ctx.client.transaction = []
            ctx.client.transactionFailed = false
            return .reply(.ok)
        },
        CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog, .transactionControl],
                    group: "transactions", since: "1.2.0", summary: "Executes all commands in a transaction.",
                    complexity: "Depends on commands in the transaction", acl: ["slow", "transaction"]) { ctx in
            .reply(ctx.server.execTransaction(ctx.client))
        },
        CommandSpec("discard", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy, .transactionControl],
                    group: "transactions", since: "2.0.0", summary: "Discards a transaction.",
                    complexity: "O(N), when N is the number of queued commands", acl: ["fast", "transaction"]) { ctx throws(CommandError) in
            guard ctx.client.transaction != nil else { throw CommandError("ERR DISCARD without MULTI") }
            ctx.client.transaction = nil
            ctx.client.transactionFailed = false
            ctx.server.unwatchAll(ctx.client)
            return .reply(.ok)
        },
        CommandSpec("watch", arity: -2, flags: [.noscript, .loading, .stale, .fast, .allowBusy, .transactionControl], keys: (1, -1, 1),
                    group: "transactions", since: "2.2.0", summary: "Monitors changes to keys to determine the execution of a transaction.",
                    complexity: "O(1) for every key.", acl: ["fast", "transaction"]) { ctx throws(CommandError) in
            if ctx.client.transaction != nil { throw CommandError("ERR WATCH inside MULTI is not allowed") }
            for k in ctx.args.dropFirst() { ctx.server.watch(ctx.client, k.bytes) }
            return .reply(.ok)
        },
        CommandSpec("unwatch", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy],
                    group: "transactions", since: "2.2.0", summary: "Forgets about watched keys of a transaction.",
                    acl: ["fast", "transaction"]) { ctx in
            ctx.server.unwatchAll(ctx.client)
            return .reply(.ok)
        },
    ]
}

extension CommandFlags {
    static let skipSlowlog = CommandFlags(rawValue: 1 << 13)
}
