#if canImport(Glibc)
import Glibc
#endif
import RESP
import Spool
import SpoolFormat
import SpoolTools
import Testing
import TestSupport

/// `spool replay --into redis://…` and `spool import` against a real redis-server (Debian's, as
/// Tools/install-deps.sh installs it), one server per test.
@Suite("replay into and import from redis-server", .serialized)
struct RedisToolTests {
    /// Fields that are not text: CR LF, NUL, 0xFF, an empty value.
    static let binaryFields: [[UInt8]] = [[0xFF, 0x00, 0x0D, 0x0A], [], [0x00], [0x80, 0x81, 0x0A]]

    /// A store with `orders`: 2500 fixture entries, one deleted, one with binary fields.
    func makeSource(_ dir: String) throws -> [StreamEntry] {
        try makeStore(dir, count: 2500, checkpoint: false) { s in
            try s.append(Self.binaryFields, id: .explicit(fixtureID(2500)), sync: false)
            try s.delete([fixtureID(7)], sync: false)
        }
        return try engineEntries(dir)
    }

    /// Runs `body` with the source store of ``makeSource(_:)``, its entries and a fresh server.
    func withSourceAndRedis(password: String? = nil, _ body: (TemporaryDirectory, [StreamEntry], RedisServerProcess) throws -> Void) throws {
        let src = TemporaryDirectory("redis-source")
        defer { src.remove() }
        let expected = try makeSource(src.path)
        try withRedisServer(password: password) { redis in try body(src, expected, redis) }
    }

    func xrange(_ c: RedisConnection, _ key: String) throws -> [StreamEntry] {
        try #require(try c.run("XRANGE", key, "-", "+").streamEntries)
    }

    func replay(_ dir: String, _ options: ReplayOptions) throws -> ReplayStats {
        var out = CollectedOutput()
        return try Replay.run(directory: dir, options: options, to: &out)
    }

    func failure(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    @Test("replay into Redis keeps IDs and bytes; run again it writes nothing; --new-ids lets Redis assign IDs")
    func replayKeepsIDs() throws {
        try withSourceAndRedis { src, expected, redis in
            let c = try redis.connect()
            var options = ReplayOptions(stream: b("orders"), target: .redis(redis.url(key: "copy")))
            let first = try replay(src.path, options)
            #expect(first.written == expected.count && first.skipped == 0)
            #expect(try xrange(c, "copy") == expected)

            let again = try replay(src.path, options)
            #expect(again.written == 0 && again.skipped == expected.count)
            #expect(try c.run("XLEN", "copy") == .integer(Int64(expected.count)))

            options.target = .redis(redis.url(key: "fresh"))
            options.newIDs = true
            let fresh = try replay(src.path, options)
            #expect(fresh.written == expected.count)
            let got = try xrange(c, "fresh")
            #expect(got.map(\.fields) == expected.map(\.fields))
            #expect(got.allSatisfy { $0.id.ms > fixtureID(2500).ms })
        }
    }

    @Test("an interrupted replay continues after its resume file: no duplicates, no gaps, with original and with new IDs")
    func replayResume() throws {
        try withSourceAndRedis { src, expected, redis in
            let c = try redis.connect()
            for newIDs in [false, true] {
                let key = newIDs ? "new" : "kept"
                let resume = src.path + "/resume-" + key
                var options = ReplayOptions(stream: b("orders"), target: .redis(redis.url(key: key)))
                options.newIDs = newIDs
                options.resumeFile = resume
                options.limit = 1234
                let first = try replay(src.path, options)
                #expect(first.written == 1234)
                #expect(String(decoding: readAll(resume), as: UTF8.self) == "\(expected[1233].id)\n")
                options.limit = nil
                let second = try replay(src.path, options)
                #expect(second.written == expected.count - 1234)
                #expect(second.skipped == 0)
                let got = try xrange(c, key)
                #expect(got.map(\.fields) == expected.map(\.fields))
                if !newIDs { #expect(got == expected) }
                #expect(String(decoding: readAll(resume), as: UTF8.self) == "\(expected.last!.id)\n")
            }
        }
    }

    @Test("an error reply stops the replay with the server's text; the resume file stays at the last acknowledged entry")
    func replayErrorReply() throws {
        try withSourceAndRedis { src, expected, redis in
            let c = try redis.connect()
            func usedMemory() throws -> Int {
                let info = try #require(try c.run("INFO", "memory").textValue)
                let line = try #require(info.split(separator: "\r\n").first { $0.hasPrefix("used_memory:") })
                return try #require(Int(line.dropFirst("used_memory:".count)))
            }
            let resume = src.path + "/resume"
            var options = ReplayOptions(stream: b("orders"), target: .redis(redis.url(key: "capped")))
            options.resumeFile = resume
            options.limit = 1000
            #expect(try replay(src.path, options).written == 1000)
            options.limit = nil
            // The next batch of 1,000 does not fit: its queued arguments alone (≈ 150 KB) count
            // as used memory, so Redis refuses it with OOM while queueing and EXEC aborts it.
            try c.run("CONFIG", "SET", "maxmemory-policy", "noeviction")
            try c.run("CONFIG", "SET", "maxmemory", "\(try usedMemory() + 20_000)")
            let message = failure { _ = try replay(src.path, options) }
            #expect(message.contains("rejected XADD of entry"))
            #expect(message.contains("(and so the batch \(expected[1000].id)…\(expected[1999].id))"))
            #expect(message.contains("OOM command not allowed"))
            try c.run("CONFIG", "SET", "maxmemory", "0")
            #expect(try xrange(c, "capped") == Array(expected.prefix(1000)))
            #expect(String(decoding: readAll(resume), as: UTF8.self) == "\(expected[999].id)\n")
            let rest = try replay(src.path, options)
            #expect(rest.written == expected.count - 1000)
            #expect(try xrange(c, "capped") == expected)
        }
    }

    @Test("replay authenticates with the URL's password (percent-decoded) and selects its database; wrong logins fail clearly")
    func replayAuthAndDatabase() throws {
        try withSourceAndRedis(password: "s3cr@t pw") { src, expected, redis in
            let base = "127.0.0.1:\(redis.port)"
            let options = ReplayOptions(stream: b("orders"), target: try ReplayTarget.parse("redis://:s3cr%40t%20pw@\(base)/3/copy", database: 0))
            #expect(try replay(src.path, options).written == expected.count)
            #expect(try xrange(try redis.connect(database: 3), "copy") == expected)
            #expect(try redis.connect(database: 0).run("EXISTS", "copy") == .integer(0))

            func attempt(_ url: String) -> String {
                failure { _ = try replay(src.path, ReplayOptions(stream: b("orders"), target: try ReplayTarget.parse(url, database: 0))) }
            }
            let wrong = attempt("redis://:nope@\(base)/3/copy")
            #expect(wrong.contains("authentication to \(base) failed") && wrong.contains("WRONGPASS"))
            #expect(attempt("redis://\(base)/3/copy").contains("NOAUTH"))
            let db = attempt("redis://:s3cr%40t%20pw@\(base)/99/copy")
            #expect(db.contains("SELECT 99 failed") && db.contains("DB index is out of range"))
            #expect(attempt("redis://127.0.0.1:1/copy").contains("cannot connect to 127.0.0.1:1"))
        }
    }

    /// Fills `src` in db1 with random binary entries, deletions and three consumer groups whose
    /// PELs have several owners, claimed delivery counts, idle times and a deleted entry.
    func makeRedisSource(_ c: RedisConnection) throws {
        var rng = SeededRNG(seed: 0x5EED)
        var p = RedisPipeline()
        for i in 0..<3000 {
            var args: [[UInt8]] = [b("XADD"), b("src"), b("\(1_700_000_000_000 + UInt64(i / 3))-\(i % 3)")]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                for _ in 0..<2 { args.append((0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
            }
            p.append(args)
        }
        for r in try c.send(p).wait() { if case .error(let e) = r { Issue.record("XADD failed: \(e)") } }
        let ids = try #require(try c.run("XRANGE", "src", "-", "+").streamEntries).map { $0.id.description }
        try c.run("XGROUP", "CREATE", "src", "g1", "0")
        try c.run("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "700", "STREAMS", "src", ">")
        try c.run("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1500", "STREAMS", "src", ">")
        try c.checkedCall([b("XACK"), b("src"), b("g1")] + ids[0..<100].map(b))
        try c.checkedCall([b("XCLAIM"), b("src"), b("g1"), b("carol"), b("0")] + ids[800..<810].map(b) + [b("RETRYCOUNT"), b("7")])
        try c.run("XCLAIM", "src", "g1", "alice", "0", ids[150], "IDLE", "5000")
        try c.run("XDEL", "src", ids[1000], ids[2999], ids[5])
        try c.run("XGROUP", "CREATECONSUMER", "src", "g1", "dave")
        try c.checkedCall([b("XGROUP"), b("CREATE"), b("src"), [0x67, 0xFF, 0x32], b(ids[99]), b("ENTRIESREAD"), b("90")])
        try c.checkedCall([b("XREADGROUP"), b("GROUP"), [0x67, 0xFF, 0x32], [0x00, 0x65], b("COUNT"), b("10"), b("STREAMS"), b("src"), b(">")])
        try c.run("XGROUP", "CREATE", "src", "g3", "$")
        try c.run("RPUSH", "alist", "x")
    }

    @Test("import copies entries byte for byte, the counters, groups, consumers and PELs; a replay back gives the same XRANGE")
    func importRoundTrip() throws {
        let dir = TemporaryDirectory("redis-import")
        defer { dir.remove() }
        try withRedisServer { redis in
            let c = try redis.connect(database: 1)
            try makeRedisSource(c)
            var options = ImportOptions(source: redis.url(database: 1), key: b("src"), directory: dir.path)
            options.stream = b("imported")
            options.database = 1
            options.pageSize = 256
            let stats = try Import.run(options)
            #expect(stats.entries == 2997 && stats.groups == 3 && stats.consumers == 5)

            let source = try xrange(c, "src")
            let streamInfo = try #require(try c.run("XINFO", "STREAM", "src").fieldTable)
            let groupsReply = try #require(try c.run("XINFO", "GROUPS", "src").arrayValue)
            do {
                let store = try SpoolStore(directory: dir.path)
                defer { store.close() }
                let db = store.database(1)
                let stream = try #require(db.stream(b("imported")))
                #expect(try stream.range() == source)
                let info = try stream.info()
                #expect(info.length == streamInfo["length"]?.integerValue.map(Int.init))
                #expect(info.lastGeneratedID == streamInfo["last-generated-id"]?.streamIDValue)
                #expect(info.maxDeletedEntryID == streamInfo["max-deleted-entry-id"]?.streamIDValue)
                #expect(info.entriesAdded == streamInfo["entries-added"]?.integerValue.map(UInt64.init))
                #expect(info.recordedFirstEntryID == streamInfo["recorded-first-entry-id"]?.streamIDValue)

                let groups = try db.groupsInfo(b("imported"))
                #expect(groups.count == groupsReply.count)
                for (g, reply) in zip(groups, groupsReply) {
                    let r = try #require(reply.fieldTable)
                    #expect(g.name == r["name"]?.bytesValue)
                    #expect(g.consumers == r["consumers"]?.integerValue.map(Int.init))
                    #expect(g.pending == r["pending"]?.integerValue.map(Int.init))
                    #expect(g.lastDeliveredID == r["last-delivered-id"]?.streamIDValue)
                    #expect(g.entriesRead == r["entries-read"]?.integerValue.map(UInt64.init))
                    #expect(g.lag == r["lag"]?.integerValue)

                    let consumers = try db.consumersInfo(b("imported"), g.name)
                    let consumersReply = try #require(try c.checkedCall([b("XINFO"), b("CONSUMERS"), b("src"), g.name]).arrayValue)
                    #expect(consumers.count == consumersReply.count)
                    for (mine, theirs) in zip(consumers, consumersReply) {
                        let t = try #require(theirs.fieldTable)
                        #expect(mine.name == t["name"]?.bytesValue)
                        #expect(mine.pending == t["pending"]?.integerValue.map(Int.init))
                        #expect(abs(mine.idleMs - (t["idle"]?.integerValue ?? -10_000)) < 2000)
                    }

                    let pending = try db.pending(b("imported"), g.name, count: 100_000)
                    let pendingReply = try #require(try c.checkedCall([b("XPENDING"), b("src"), g.name, b("-"), b("+"), b("100000")]).arrayValue)
                    #expect(pending.count == pendingReply.count)
                    for (mine, theirs) in zip(pending, pendingReply) {
                        let t = try #require(theirs.arrayValue)
                        #expect(mine.id == t[0].streamIDValue)
                        #expect(mine.consumer == t[1].bytesValue)
                        #expect(abs(Int64(mine.idleMs) - (t[2].integerValue ?? -10_000)) < 2000)
                        #expect(Int64(mine.deliveryCount) == t[3].integerValue)
                    }
                }
                #expect(groups.first { $0.name == b("g1") }?.pending == 2100)
            }

            var back = ReplayOptions(stream: b("imported"), target: .redis(redis.url(database: 1, key: "back")))
            back.database = 1
            #expect(try replay(dir.path, back).written == source.count)
            #expect(try xrange(c, "back") == source)

            #expect(failure { _ = try Import.run(options) }.contains("already exists; import does not overwrite"))
            options.stream = b("other")
            options.key = b("missing")
            #expect(failure { _ = try Import.run(options) }.contains("no key missing in"))
            options.key = b("alist")
            #expect(failure { _ = try Import.run(options) }.contains("alist in redis://127.0.0.1:\(redis.port)/1 is a list, not a stream"))
            let store = try SpoolStore(directory: dir.path)
            defer { store.close() }
            #expect(store.database(1).stream(b("other")) == nil)
        }
    }

    @Test("redis:// URLs: password, user, database, key, percent escapes, IPv6, and the errors")
    func urls() throws {
        let full = try RedisURL.parse("redis://user:p%40ss@example.org:6380/2/my/key", key: .required)
        #expect(full == RedisURL(host: "example.org", port: 6380, username: "user", password: "p@ss", database: 2, key: b("my/key")))
        #expect(try RedisURL.parse("redis://:pw@h/orders", key: .required) == RedisURL(host: "h", password: "pw", key: b("orders")))
        #expect(try RedisURL.parse("redis://h:1/5", key: .required).key == b("5"))
        #expect(try RedisURL.parse("redis://h:1/5", key: .forbidden) == RedisURL(host: "h", port: 1, database: 5))
        #expect(try RedisURL.parse("redis://[::1]:7000/k%FF", key: .required) == RedisURL(host: "::1", port: 7000, key: [0x6B, 0xFF]))
        #expect(try RedisURL.parse("redis://h", key: .forbidden) == RedisURL(host: "h"))
        for bad in ["rediss://h/k", "redis://h", "redis://h:0/k", "redis://h:x/k", "redis:///k", "http://h/k", "redis://h/%G1"] {
            #expect(throws: ToolError.self, "\(bad)") { try RedisURL.parse(bad, key: .required) }
        }
        #expect(throws: ToolError.self) { try RedisURL.parse("redis://h/0/k", key: .forbidden) }
        #expect(full.description == "redis://example.org:6380/2")
    }
}
