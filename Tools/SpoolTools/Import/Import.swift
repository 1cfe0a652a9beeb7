import RESP
import Spool
import SpoolFormat

/// Settings of `spool import`.
public struct ImportOptions: Sendable {
    /// The Redis server and database to read from (its URL names no key).
    public var source: RedisURL
    /// The stream key in Redis.
    public var key: [UInt8]
    /// The Spool data directory to write into (created when missing).
    public var directory: String
    /// The Spool stream to create; the key's name by default.
    public var stream: [UInt8]
    /// The Spool database to create it in.
    public var database = 0
    /// Entries per XRANGE page and records per XPENDING page.
    public var pageSize = 1000
    /// Progress bar: nil = only on a terminal.
    public var progress: Bool? = nil

    /// An import of `key` from `source` into a stream of the same name in `directory`.
    public init(source: RedisURL, key: [UInt8], directory: String) {
        self.source = source
        self.key = key
        self.directory = directory
        self.stream = key
    }
}

/// What an import copied.
public struct ImportStats: Sendable {
    /// Entries copied.
    public var entries = 0
    /// Consumer groups created.
    public var groups = 0
    /// Consumers restored.
    public var consumers = 0
    /// Pending entries restored.
    public var pending = 0
    /// Seconds taken.
    public var seconds = 0.0
}

/// `spool import`: the migration path from Redis. Copies one stream key into a new Spool stream:
///
/// - the entries, byte for byte, with their IDs (XRANGE in pages, each next page asked for
///   while the previous one is written);
/// - the counters of XINFO STREAM — last-generated-id, entries-added, max-deleted-entry-id —
///   applied as XSETID would, so XADD, XINFO and lag behave as they did in Redis;
/// - each consumer group as XINFO GROUPS, XINFO CONSUMERS and XPENDING (extended form, paged)
///   show it: last-delivered-id and entries-read, the consumers with their seen-time (from
///   `idle`; active-time from `inactive` on Redis 7.2+, unknown before), and every pending
///   entry with its owner, delivery count and delivery time (now − `idle`: accurate to the
///   millisecond and independent of the two machines' clocks).
///
/// The target stream must not exist: import never overwrites. The source should be quiet (no
/// writers, no consumers) while it runs: its counters and group summaries are read before and
/// after the copy, and if they differ the import fails and removes what it created, as it does
/// after any other error.
public enum Import {
    /// Runs the import.
    public static func run(_ options: ImportOptions) throws(ToolError) -> ImportStats {
        let started = monotonicSeconds()
        guard options.pageSize > 0 else { throw ToolError("the page size must be positive") }
        let redis = try RedisConnection(options.source)
        defer { redis.close() }
        let key = options.key
        let keyText = Escaping.text(key)
        let type = try redis.checkedCall([Array("TYPE".utf8), key]).textValue ?? ""
        guard type == "stream" else {
            throw ToolError(type == "none" ? "no key \(keyText) in \(options.source)" : "\(keyText) in \(options.source) is a \(type), not a stream")
        }
        let facts = try StreamFacts.read(redis, key: key)
        let groupsBefore = try GroupFacts.read(redis, key: key)

        var storeOptions = StoreOptions()
        storeOptions.databases = max(storeOptions.databases, options.database + 1)
        let store: SpoolStore
        do { store = try SpoolStore(directory: options.directory, options: storeOptions) } catch {
            throw ToolError("cannot open \(options.directory): \(error)")
        }
        defer { store.close() }
        let db = store.database(options.database)
        let target = "stream \(Escaping.text(options.stream)) in db\(options.database) of \(options.directory)"
        guard db.stream(options.stream) == nil else {
            throw ToolError("\(target) already exists; import does not overwrite (delete it or choose another --stream)")
        }
        var stats = ImportStats()
        var completed = false
        defer { if !completed { _ = try? db.delete(options.stream) } }
        do {
            let stream = try db.openOrCreate(options.stream)
            stats.entries = try copyEntries(redis, key: key, through: facts.lastGeneratedID, into: stream, options: options, expected: facts.length)
            if facts.lastGeneratedID != .zero || (facts.entriesAdded ?? 0) > 0 {
                try stream.setID(facts.lastGeneratedID, entriesAdded: facts.entriesAdded, maxDeletedID: facts.maxDeletedID, sync: false)
            }
            for g in groupsBefore {
                try copyGroup(g, redis: redis, key: key, into: db, name: options.stream, pageSize: options.pageSize, stats: &stats)
            }
            let after = try StreamFacts.read(redis, key: key)
            let groupsAfter = try GroupFacts.read(redis, key: key)
            guard after == facts, groupsAfter == groupsBefore else {
                throw ToolError("\(keyText) changed in \(options.source) during the import (counters \(facts) → \(after)); stop its writers and consumers and import again")
            }
            guard stream.length == facts.length else {
                throw ToolError("copied \(stream.length) entries but XINFO STREAM reports \(facts.length)")
            }
            try stream.syncPending()
        } catch let e as ToolError {
            throw e
        } catch {
            throw ToolError("writing \(target) failed: \(error)")
        }
        completed = true
        stats.seconds = monotonicSeconds() - started
        return stats
    }

    /// XRANGE key (last through COUNT n, page after page, asking for the next page before
    /// writing the current one.
    static func copyEntries(_ redis: RedisConnection, key: [UInt8], through last: StreamID, into stream: SpoolStream,
                            options: ImportOptions, expected: Int) throws -> Int {
        let progress = ProgressBar(label: "import", total: expected, enabled: options.progress)
        defer { progress.finish() }
        func page(after: StreamID?) -> RedisReplies {
            var p = RedisPipeline()
            p.append([Array("XRANGE".utf8), key, after.map { Array("(\($0)".utf8) } ?? [UInt8(ascii: "-")], last.bytes,
                      Array("COUNT".utf8), Array(String(options.pageSize).utf8)])
            return redis.send(p)
        }
        var copied = 0
        var next = page(after: nil)
        while true {
            let reply = try next.wait()[0]
            if case .error(let text) = reply { throw ToolError("XRANGE on \(options.source) failed: \(text)") }
            guard let entries = reply.streamEntries else { throw ToolError("XRANGE on \(options.source) sent an unexpected reply: \(reply)") }
            let more = entries.count == options.pageSize && entries.last!.id < last
            if more { next = page(after: entries.last!.id) }
            for e in entries { try stream.append(e.fields, id: .explicit(e.id), sync: false) }
            copied += entries.count
            progress.advance(work: entries.count, items: entries.count)
            if !more { return copied }
        }
    }

    /// Creates the group at its cursor, restores its consumers, then its PEL page by page.
    static func copyGroup(_ g: GroupFacts, redis: RedisConnection, key: [UInt8], into db: Database, name: [UInt8],
                          pageSize: Int, stats: inout ImportStats) throws {
        try db.createGroup(name, g.name, at: .id(g.lastDeliveredID), entriesRead: g.entriesRead ?? -1, sync: false)
        stats.groups += 1
        var times: [[UInt8]: (seen: UInt64, active: UInt64?)] = [:]
        let consumers = try redis.checkedCall([Array("XINFO".utf8), Array("CONSUMERS".utf8), key, g.name])
        let now = currentMilliseconds()
        for c in consumers.arrayValue ?? [] {
            guard let t = c.fieldTable, let cname = t["name"]?.bytesValue, let idle = t["idle"]?.integerValue else {
                throw ToolError("XINFO CONSUMERS sent an unexpected reply: \(c)")
            }
            let inactive = t["inactive"]?.integerValue
            let time = (seen: before(now, idle), active: inactive.flatMap { $0 >= 0 ? before(now, $0) : nil })
            times[cname] = time
            try db.restoreConsumer(name, g.name, cname, seenMs: time.seen, activeMs: time.active, sync: false)
            stats.consumers += 1
        }
        var after: StreamID? = nil
        var restored = 0
        while true {
            let reply = try redis.checkedCall([Array("XPENDING".utf8), key, g.name, after.map { Array("(\($0)".utf8) } ?? [UInt8(ascii: "-")],
                                               [UInt8(ascii: "+")], Array(String(pageSize).utf8)])
            let now = currentMilliseconds()
            guard let items = reply.arrayValue else { throw ToolError("XPENDING sent an unexpected reply: \(reply)") }
            var byConsumer: [[UInt8]: [RestoredPending]] = [:]
            for item in items {
                guard let f = item.arrayValue, f.count == 4, let id = f[0].streamIDValue, let owner = f[1].bytesValue,
                      let idle = f[2].integerValue, let count = f[3].integerValue, count >= 0 else {
                    throw ToolError("XPENDING sent an unexpected record: \(item)")
                }
                byConsumer[owner, default: []].append(RestoredPending(id: id, deliveryCount: UInt64(count), deliveryTimeMs: before(now, idle)))
                after = id
            }
            for (owner, records) in byConsumer {
                let time = times[owner] ?? (seen: now, active: nil)
                try db.restoreConsumer(name, g.name, owner, seenMs: time.seen, activeMs: time.active, pending: records, sync: false)
            }
            restored += items.count
            if items.count < pageSize { break }
        }
        stats.pending += restored
        guard restored == g.pending else {
            throw ToolError("group \(Escaping.text(g.name)): XPENDING listed \(restored) entries but XINFO GROUPS reports \(g.pending)")
        }
    }

    static func before(_ now: UInt64, _ ms: Int64) -> UInt64 { ms <= 0 ? now : now - min(now, UInt64(ms)) }

    /// XINFO STREAM's counters (entries-added and max-deleted-entry-id are nil before Redis 7).
    struct StreamFacts: Equatable, CustomStringConvertible {
        var length: Int
        var lastGeneratedID: StreamID
        var entriesAdded: UInt64?
        var maxDeletedID: StreamID?

        static func read(_ redis: RedisConnection, key: [UInt8]) throws(ToolError) -> StreamFacts {
            let reply = try redis.checkedCall([Array("XINFO".utf8), Array("STREAM".utf8), key])
            guard let t = reply.fieldTable, let length = t["length"]?.integerValue, let last = t["last-generated-id"]?.streamIDValue else {
                throw ToolError("XINFO STREAM sent an unexpected reply: \(reply)")
            }
            return StreamFacts(length: Int(length), lastGeneratedID: last, entriesAdded: t["entries-added"]?.integerValue.map { UInt64(max(0, $0)) },
                               maxDeletedID: t["max-deleted-entry-id"]?.streamIDValue)
        }

        var description: String {
            "length \(length), last-generated-id \(lastGeneratedID), entries-added \(entriesAdded.map(String.init) ?? "?"), max-deleted-entry-id \(maxDeletedID.map(String.init(describing:)) ?? "?")"
        }
    }

    /// One group of XINFO GROUPS.
    struct GroupFacts: Equatable {
        var name: [UInt8]
        var consumers: Int64
        var pending: Int
        var lastDeliveredID: StreamID
        /// nil when Redis reports it unknown (or is older than 7).
        var entriesRead: Int64?

        static func read(_ redis: RedisConnection, key: [UInt8]) throws(ToolError) -> [GroupFacts] {
            let reply = try redis.checkedCall([Array("XINFO".utf8), Array("GROUPS".utf8), key])
            guard let items = reply.arrayValue else { throw ToolError("XINFO GROUPS sent an unexpected reply: \(reply)") }
            var out: [GroupFacts] = []
            for item in items {
                guard let t = item.fieldTable, let name = t["name"]?.bytesValue, let consumers = t["consumers"]?.integerValue,
                      let pending = t["pending"]?.integerValue, let last = t["last-delivered-id"]?.streamIDValue else {
                    throw ToolError("XINFO GROUPS sent an unexpected reply: \(item)")
                }
                out.append(GroupFacts(name: name, consumers: consumers, pending: Int(pending), lastDeliveredID: last,
                                      entriesRead: t["entries-read"]?.integerValue))
            }
            return out
        }
    }
}
