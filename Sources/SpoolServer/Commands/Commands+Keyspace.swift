import NIOCore
import RESP
import Spool

extension CommandTable {
    static let keyspaceCommands: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], keys: (1, -1, 1), group: "generic", since: "1.0.0",
                    summary: "Deletes one or more keys.", complexity: "O(N)", acl: ["keyspace", "write", "slow"], handler: del),
        CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: (1, -1, 1), group: "generic", since: "4.0.0",
                    summary: "Asynchronously deletes one or more keys.", complexity: "O(1) for each key", acl: ["keyspace", "write", "fast"], handler: del),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic", since: "1.0.0",
                    summary: "Determines whether one or more keys exist.", complexity: "O(N)", acl: ["keyspace", "read", "fast"]) { ctx throws(CommandError) in
            let db = ctx.server.store.database(ctx.db)
            var n: Int64 = 0
            for k in ctx.args.dropFirst() where db.stream(k.bytes) != nil { n += 1 }
            return .reply(.integer(n))
        },
        CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", since: "1.0.0",
                    summary: "Determines the type of value stored at a key.", acl: ["keyspace", "read", "fast"]) { ctx throws(CommandError) in
            let exists = ctx.server.store.database(ctx.db).stream(ctx.args[1].bytes) != nil
            return .reply(.simpleString(exists ? "stream" : "none"))
        },
        CommandSpec("rename", arity: 3, flags: [.write], keys: (1, 2, 1), group: "generic", since: "1.0.0",
                    summary: "Renames a key and overwrites the destination.", acl: ["keyspace", "write", "slow"]) { ctx throws(CommandError) in
            _ = try rename(ctx, replace: true)
            return .reply(.ok)
        },
        CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), group: "generic", since: "1.0.0",
                    summary: "Renames a key only when the target key name doesn't exist.", acl: ["keyspace", "write", "fast"]) { ctx throws(CommandError) in
            .reply(.integer(try rename(ctx, replace: false) ? 1 : 0))
        },
        CommandSpec("copy", arity: -3, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "generic", since: "6.2.0",
                    summary: "Copies the value of a key to a new key.", complexity: "O(N)", acl: ["keyspace", "write", "slow"], handler: copy),
        CommandSpec("keys", arity: 2, flags: [.readonly], group: "generic", since: "1.0.0",
                    summary: "Returns all key names that match a pattern.", complexity: "O(N)", acl: ["keyspace", "read", "slow", "dangerous"]) { ctx in
            let pattern = ctx.args[1].bytes
            let all = pattern == [UInt8(ascii: "*")]
            let names = ctx.server.store.database(ctx.db).names().filter { all || GlobPattern.matches(pattern, $0) }
            return .reply(.array(names.sorted { $0.lexicographicallyPrecedes($1) }.map { .bulk($0) }))
        },
        CommandSpec("scan", arity: -2, flags: [.readonly], group: "generic", since: "2.8.0",
                    summary: "Iterates over the key names in the database.", acl: ["keyspace", "read", "slow"], handler: scan),
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], group: "server", since: "1.0.0",
                    summary: "Returns the number of keys in the database.", acl: ["keyspace", "read", "fast"]) { ctx in
            .reply(.integer(Int64(ctx.server.store.database(ctx.db).count)))
        },
        CommandSpec("flushdb", arity: -1, flags: [.write], group: "server", since: "1.0.0",
                    summary: "Removes all keys from the current database.", complexity: "O(N)", acl: ["keyspace", "write", "slow", "dangerous"]) { ctx throws(CommandError) in
            try flushOptions(ctx)
            try flush(ctx.server, db: ctx.db)
            return .reply(.ok)
        },
        CommandSpec("flushall", arity: -1, flags: [.write], group: "server", since: "1.0.0",
                    summary: "Removes all keys from all databases.", complexity: "O(N)", acl: ["keyspace", "write", "slow", "dangerous"]) { ctx throws(CommandError) in
            try flushOptions(ctx)
            for i in 0..<ctx.server.store.databaseCount { try flush(ctx.server, db: i) }
            return .reply(.ok)
        },
    ]

    private static func flushOptions(_ ctx: CommandContext) throws(CommandError) {
        if ctx.args.count > 2 { throw .syntax }
        if ctx.args.count == 2 && !ctx.args[1].isKeyword("ASYNC") && !ctx.args[1].isKeyword("SYNC") { throw .syntax }
    }

    private static func flush(_ server: ServerState, db index: Int) throws(CommandError) {
        let db = server.store.database(index)
        let names = db.names()
        do { try db.flush() } catch { throw CommandError(error.redisMessage) }
        for n in names { server.written(db: index, n, wakesReaders: true) }
    }

    @Sendable static func del(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let db = ctx.server.store.database(ctx.db)
        let keys = ctx.args.dropFirst().map(\.bytes)
        let existed: [Bool]
        do { existed = try db.delete(keys) } catch { throw CommandError(error.redisMessage) }  // one directory sync
        var n: Int64 = 0
        for (key, e) in zip(keys, existed) where e {
            n += 1
            ctx.written(key, wakesReaders: true)
        }
        return .reply(.integer(n))
    }

    private static func rename(_ ctx: CommandContext, replace: Bool) throws(CommandError) -> Bool {
        let db = ctx.server.store.database(ctx.db)
        let from = ctx.args[1].bytes, to = ctx.args[2].bytes
        guard db.stream(from) != nil else { throw .noSuchKey }
        if from == to { return !replace ? false : true }
        let done: Bool
        do { done = try db.rename(from, to: to, replace: replace) } catch { throw CommandError(error.redisMessage) }
        if done {
            for k in [from, to] { ctx.written(k, wakesReaders: true) }
        }
        return done
    }

    @Sendable static func copy(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        var targetDB = ctx.db
        var replace = false
        var i = 3
        while i < ctx.args.count {
            if ctx.args[i].isKeyword("REPLACE") {
                replace = true
            } else if ctx.args[i].isKeyword("DB"), i + 1 < ctx.args.count {
                guard let n = ctx.args[i + 1].int64, n >= Int64(Int32.min), n <= Int64(Int32.max) else { throw .notInteger }
                guard n >= 0, n < Int64(ctx.server.store.databaseCount) else { throw CommandError("ERR DB index is out of range") }
                targetDB = Int(n)
                i += 1
            } else {
                throw .syntax
            }
            i += 1
        }
        let from = ctx.args[1].bytes, to = ctx.args[2].bytes
        if targetDB == ctx.db && from == to { throw CommandError("ERR source and destination objects are the same") }
        let source = ctx.server.store.database(ctx.db)
        let dest = ctx.server.store.database(targetDB)
        guard source.stream(from) != nil else { return .reply(.integer(0)) }
        if dest.stream(to) != nil && !replace { return .reply(.integer(0)) }
        let done: Bool
        do { done = try source.copy(from, to: to, into: dest, replace: replace) } catch { throw CommandError(error.redisMessage) }
        if done { ctx.server.written(db: targetDB, to, wakesReaders: true) }
        return .reply(.integer(done ? 1 : 0))
    }

    /// SCAN: keys in order of their hash position (`Database.scan`, O(log n + COUNT) per call);
    /// the cursor is the position to resume at, so a key present for the whole iteration is
    /// returned at least once, as Redis guarantees.
    @Sendable static func scan(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        guard let cursor = RedisNumbers.parseUnsigned(args[1].readableBytesView) else { throw CommandError("ERR invalid cursor") }
        var count = 10
        var pattern: [UInt8]? = nil
        var type: ByteBuffer? = nil
        var i = 2
        while i < args.count {
            guard i + 1 < args.count else { throw .syntax }
            if args[i].isKeyword("COUNT") {
                guard let n = args[i + 1].int64 else { throw .notInteger }
                guard n >= 1 else { throw .syntax }
                count = Int(min(n, 1 << 30))
            } else if args[i].isKeyword("MATCH") {
                pattern = args[i + 1].bytes
                if pattern == [UInt8(ascii: "*")] { pattern = nil }
            } else if args[i].isKeyword("TYPE") {
                type = args[i + 1]
            } else {
                throw .syntax
            }
            i += 2
        }
        let typeOK = type.map { $0.isKeyword("STREAM") } ?? true
        let (names, next) = ctx.server.store.database(ctx.db).scan(from: cursor, count: count) { name in
            typeOK && (pattern.map { GlobPattern.matches($0, name) } ?? true)
        }
        let out = names.map { RESPValue.bulk($0) }
        return .reply(.array([.bulk(String(next)), .array(out)]))
    }
}

extension RedisNumbers {
    /// `string2ull`-style unsigned decimal (SCAN cursors).
    static func parseUnsigned<C: Collection>(_ s: C) -> UInt64? where C.Element == UInt8 {
        guard !s.isEmpty, s.count <= 20 else { return nil }
        var v: UInt64 = 0
        for c in s {
            guard c >= 48, c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }
}
